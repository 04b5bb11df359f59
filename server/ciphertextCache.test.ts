import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CiphertextCache } from './ciphertextCache'

const bytes = (length: number, fill = 1) => Buffer.alloc(length, fill)

describe('CiphertextCache', () => {
  it('keys by version: a new token or tag is a different entry', () => {
    const tag = Buffer.alloc(16, 7)
    const v1 = CiphertextCache.key({ id: 'a', token: 1, tag })
    assert.notEqual(v1, CiphertextCache.key({ id: 'a', token: 2, tag }))
    assert.notEqual(v1, CiphertextCache.key({ id: 'a', token: 1, tag: Buffer.alloc(16, 8) }))
    assert.notEqual(v1, CiphertextCache.key({ id: 'b', token: 1, tag }))
    assert.equal(v1, CiphertextCache.key({ id: 'a', token: 1, tag: Buffer.from(tag) }))
  })

  it('stays within its byte budget, evicting the least recently used', () => {
    const cache = new CiphertextCache(400)
    cache.set('a', bytes(100))
    cache.set('b', bytes(100))
    cache.set('c', bytes(100))
    cache.set('d', bytes(100))
    assert.ok(cache.get('a'), 'a is now the most recently used')
    cache.set('e', bytes(100))
    assert.equal(cache.get('b'), undefined, 'b was the least recently used')
    assert.ok(cache.get('a') && cache.get('c') && cache.get('d') && cache.get('e'))
    assert.deepEqual(cache.size, { entries: 4, bytes: 400 })
  })

  it('refuses an entry above a quarter of the budget', () => {
    const cache = new CiphertextCache(400)
    cache.set('big', bytes(101))
    assert.equal(cache.get('big'), undefined)
    cache.set('fits', bytes(100))
    assert.equal(cache.get('fits')?.length, 100)
  })

  it('counts a replaced entry once', () => {
    const cache = new CiphertextCache(400)
    cache.set('a', bytes(100, 1))
    cache.set('a', bytes(50, 2))
    assert.deepEqual(cache.size, { entries: 1, bytes: 50 })
    assert.equal(cache.get('a')![0], 2)
    cache.delete('a')
    assert.deepEqual(cache.size, { entries: 0, bytes: 0 })
  })
})
