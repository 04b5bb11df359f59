import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ImageRecord } from '../protocol/record'
import { RecordStore } from './recordStore'

const record = (token: number, proof: string, key = 'K'): ImageRecord => ({ id: 'a', token, meta: { key, iv: 'I', tag: 'T' }, statelessProof: proof })

describe('RecordStore', () => {
  it('replaces a record by a newer one', () => {
    const store = new RecordStore()
    store.set(record(1, 'p1', 'old'))
    store.set(record(2, 'p2', 'new'))
    assert.deepEqual(store.get('a'), record(2, 'p2', 'new'))
    assert.equal(store.get('b'), undefined)
  })

  it('keeps a newer token and meta (learned from Updated) but takes the fresh proof of an older record', () => {
    const store = new RecordStore()
    store.set(record(5, 'p1', 'updated-key'))
    store.set(record(3, 'fresh-proof', 'stale-key'))
    assert.deepEqual(store.get('a'), record(5, 'fresh-proof', 'updated-key'))
  })

  it('calls onLogout listeners once, at the next clear (at once for a generation already past), and not after they stopped listening', () => {
    const store = new RecordStore()
    const calls: string[] = []
    const generation = store.generation
    store.onLogout(generation, () => calls.push('running'))
    const stop = store.onLogout(generation, () => calls.push('done before the logout'))
    stop()
    assert.deepEqual([...calls], [])
    store.clear()
    assert.deepEqual([...calls], ['running'])
    store.clear()
    assert.deepEqual([...calls], ['running'], 'a listener is called once')
    store.onLogout(generation, () => calls.push('started before a logout that already happened'))
    assert.deepEqual([...calls], ['running', 'started before a logout that already happened'])
  })
})
