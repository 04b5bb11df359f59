import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { balancedOrder, median, ratioInterval, summarize, verdict, VERDICT_LEVEL } from './stats'

/** How often each ordered pair (a right before b) occurs within the rounds' orders. */
function followCounts(orders: string[][]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const order of orders) for (let i = 1; i < order.length; i++) counts.set(`${order[i - 1]}>${order[i]}`, (counts.get(`${order[i - 1]}>${order[i]}`) ?? 0) + 1)
  return counts
}

describe('balancedOrder', () => {
  for (const n of [2, 3, 4, 5, 6]) {
    it(`runs ${n} items in every position equally and after every other item equally often`, () => {
      const items = Array.from({ length: n }, (_, i) => String.fromCharCode(65 + i))
      const period = n % 2 === 0 ? n : 2 * n
      const orders = Array.from({ length: period }, (_, round) => balancedOrder(items, round))
      for (const order of orders) assert.deepEqual([...order].sort(), items, 'each round runs every item once')
      for (let position = 0; position < n; position++) {
        const at = orders.map((order) => order[position]!).sort()
        assert.deepEqual(at, items.flatMap((item) => Array(period / n).fill(item)).sort(), `position ${position}`)
      }
      const counts = followCounts(orders)
      assert.equal(counts.size, n * (n - 1), 'every ordered pair occurs')
      assert.deepEqual(new Set(counts.values()), new Set([period / n]), 'each equally often')
    })
  }

  it('repeats with its period, negative rounds (the warm-up round -1) included', () => {
    const items = ['a', 'b', 'c', 'd']
    assert.deepEqual(balancedOrder(items, -1), balancedOrder(items, 3))
    assert.deepEqual(balancedOrder(items, 4), balancedOrder(items, 0))
    assert.deepEqual(balancedOrder(['a', 'b', 'c'], -1), balancedOrder(['a', 'b', 'c'], 5))
    assert.deepEqual(balancedOrder([], 2), [])
  })
})

describe('ratioInterval', () => {
  const pairs = Array.from({ length: 60 }, (_, i) => ({ pixstore: 100 + ((i * 37) % 23), plain: 100 + ((i * 11) % 19) }))

  it('brackets the ratio of the medians, and gives the same interval for the same pairs', () => {
    const [low, high] = ratioInterval(pairs)
    const ratio = median(pairs.map((p) => p.pixstore)) / median(pairs.map((p) => p.plain))
    assert.ok(low <= ratio && ratio <= high, `${low} <= ${ratio} <= ${high}`)
    assert.ok(low < high)
    assert.deepEqual(ratioInterval(pairs), [low, high])
  })

  it('narrows as rounds are added, and is a point when every round agrees', () => {
    const width = (interval: [number, number]) => interval[1] - interval[0]
    assert.ok(width(ratioInterval([...pairs, ...pairs, ...pairs, ...pairs])) < width(ratioInterval(pairs)))
    assert.deepEqual(ratioInterval([{ pixstore: 3, plain: 2 }, { pixstore: 3, plain: 2 }]), [1.5, 1.5])
    assert.deepEqual(ratioInterval([{ pixstore: 1, plain: 0 }]), [Number.NaN, Number.NaN])
  })
})

describe('verdict', () => {
  it('decides an at-most target only when the whole interval lies on one side of it', () => {
    assert.equal(verdict([0.98, 1.04], { atMost: 1.05 }), 'met')
    assert.equal(verdict([0.98, 1.05], { atMost: 1.05 }), 'met', 'the target itself is met')
    assert.equal(verdict([1.06, 1.2], { atMost: 1.05 }), 'missed')
    assert.equal(verdict([0.98, 1.12], { atMost: 1.05 }), 'undecided', 'a ratio of 1.01x whose interval spans the target')
    assert.equal(verdict([1.01, 1.07], { atMost: 1.05 }), 'undecided')
  })

  it('decides an at-least target the same way, and no interval decides nothing', () => {
    assert.equal(verdict([1, 1.5], { atLeast: 1 }), 'met')
    assert.equal(verdict([0.5, 0.9], { atLeast: 1 }), 'missed')
    assert.equal(verdict([0.9, 1.1], { atLeast: 1 }), 'undecided')
    assert.equal(verdict([Number.NaN, Number.NaN], { atMost: 1.05 }), 'undecided')
  })
})

describe('summarize', () => {
  it("gives the medians of each side, the range of the rounds' ratios and the interval that judges a target", () => {
    const pairs = [
      { pixstore: 10, plain: 10 },
      { pixstore: 30, plain: 10 },
      { pixstore: 20, plain: 40 },
    ]
    assert.deepEqual(summarize(pairs), { pixstore: 20, plain: 10, range: [0.5, 3], interval: { range: ratioInterval(pairs, VERDICT_LEVEL), level: VERDICT_LEVEL } })
    assert.equal(VERDICT_LEVEL, 0.95)
  })
})
