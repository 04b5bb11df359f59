import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InFlight } from './inFlight'

describe('InFlight', () => {
  it('runs one task per key at a time and starts afresh once it settled', async () => {
    const inFlight = new InFlight<number>()
    let runs = 0
    const task = async () => {
      const run = ++runs
      await new Promise((resolve) => setTimeout(resolve, 10))
      return run
    }
    assert.deepEqual(await Promise.all([inFlight.run('a', task), inFlight.run('a', task), inFlight.run('b', task)]), [1, 1, 2])
    assert.equal(await inFlight.run('a', task), 3)
  })

  it('shares a failure with every waiter, then forgets it', async () => {
    const inFlight = new InFlight<number>()
    const failure = new Error('down')
    let runs = 0
    const failing = async (): Promise<number> => {
      runs++
      await null
      throw failure
    }
    const waiters = [inFlight.run('a', failing), inFlight.run('a', failing), inFlight.run('a', failing)]
    const outcomes = await Promise.allSettled(waiters)
    assert.equal(runs, 1, 'one task ran for the three waiters')
    for (const outcome of outcomes) assert.ok(outcome.status === 'rejected' && outcome.reason === failure, 'each waiter got that one failure')
    assert.equal(await inFlight.run('a', async () => 5), 5)
  })
})
