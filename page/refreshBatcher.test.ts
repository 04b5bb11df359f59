import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ImageRecord } from '../protocol/record'
import { RefreshBatcher } from './refreshBatcher'

const record = (id: string): ImageRecord => ({
  id,
  token: 1,
  meta: { key: btoa('k'.repeat(32)), iv: btoa('i'.repeat(12)), tag: btoa('t'.repeat(16)) },
  statelessProof: `fresh-${id}`,
})

/** A refreshRecords callback that records its calls and answers for every id except `missing`. */
function app(missing: string[] = []) {
  const calls: string[][] = []
  const refresh = async (ids: string[]) => {
    calls.push(ids)
    return ids.filter((id) => !missing.includes(id)).map(record)
  }
  return { calls, refresh }
}

const quiet = <T>(run: () => Promise<T>): Promise<T> => {
  const warn = console.warn
  console.warn = () => {}
  return run().finally(() => (console.warn = warn))
}

describe('RefreshBatcher', () => {
  it('ids asked within the delay go to one call', async () => {
    const { calls, refresh } = app()
    const batcher = new RefreshBatcher(refresh, { delayMs: 20 })
    const results = await Promise.all(['a', 'b', 'c'].map((id) => batcher.get(id)))
    assert.deepEqual(calls, [['a', 'b', 'c']])
    assert.deepEqual(results.map((r) => r?.statelessProof), ['fresh-a', 'fresh-b', 'fresh-c'])
  })

  it('concurrent requests for one id share one call and one id in it', async () => {
    const { calls, refresh } = app()
    const slow = (ids: string[]) => new Promise<ImageRecord[]>((resolve) => setTimeout(() => resolve(refresh(ids)), 80))
    const batcher = new RefreshBatcher(slow, { delayMs: 20 })
    const first = batcher.get('a')
    await new Promise((resolve) => setTimeout(resolve, 40)) // the call is under way
    const [x, y, z] = await Promise.all([first, batcher.get('a'), batcher.get('a')])
    assert.deepEqual(calls, [['a']])
    assert.equal(x, y)
    assert.equal(y, z)
  })

  it('ids asked after a call settled make a new call', async () => {
    const { calls, refresh } = app()
    const batcher = new RefreshBatcher(refresh, { delayMs: 5 })
    await batcher.get('a')
    await batcher.get('a')
    assert.deepEqual(calls, [['a'], ['a']])
  })

  it('splits a long list into calls of at most maxBatch ids', async () => {
    const { calls, refresh } = app()
    const batcher = new RefreshBatcher(refresh, { delayMs: 20, maxBatch: 2 })
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => batcher.get(id)))
    assert.deepEqual(calls, [['a', 'b'], ['c', 'd'], ['e']])
    assert.ok(results.every((r) => r !== null))
  })

  it('an id the app leaves out, or answers with a malformed or foreign record, gets null', async () => {
    const batcher = new RefreshBatcher(async () => [record('a'), { ...record('b'), token: -1 }, record('zzz')], { delayMs: 5 })
    const results = await quiet(() => Promise.all(['a', 'b', 'c'].map((id) => batcher.get(id))))
    assert.deepEqual(results.map((r) => r?.id ?? null), ['a', null, null])
  })

  it('a callback that throws, or resolves with no list, ends in null for every id', async () => {
    for (const refresh of [async () => Promise.reject(new Error('API down')), async () => null as unknown as ImageRecord[], () => { throw new Error('sync') }]) {
      const batcher = new RefreshBatcher(refresh as () => Promise<ImageRecord[]>, { delayMs: 5 })
      assert.deepEqual(await quiet(() => Promise.all([batcher.get('a'), batcher.get('b')])), [null, null])
    }
  })

  it('a callback that hangs ends in null after timeoutMs, and the next ask calls again', async () => {
    let calls = 0
    const batcher = new RefreshBatcher(() => (calls++, new Promise<ImageRecord[]>(() => {})), { delayMs: 5, timeoutMs: 50 })
    assert.equal(await quiet(() => batcher.get('a')), null)
    assert.equal(await quiet(() => batcher.get('a')), null)
    assert.equal(calls, 2)
  })
})
