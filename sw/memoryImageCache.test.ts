import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryImageCache } from './memoryImageCache'

const image = (byte: number, token = 1) => ({ image: new Uint8Array([byte, byte]), mimeType: 'image/png', token })

describe('MemoryImageCache (persist: false)', () => {
  it('evicts the least recently used image beyond maxEntries', async () => {
    const cache = new MemoryImageCache({ maxEntries: 2, maxAgeSeconds: 60 })
    await cache.put('a', image(1))
    await cache.put('b', image(2))
    assert.ok(await cache.match('a', 1), 'a is used again, so b is now the oldest')
    await cache.put('c', image(3))
    assert.deepEqual([await cache.has('a'), await cache.has('b'), await cache.has('c')], [true, false, true])
  })

  it('answers only the version asked for, keeps the newer one, and serves the bytes', async () => {
    const cache = new MemoryImageCache({ maxEntries: 5, maxAgeSeconds: 60 })
    await cache.put('a', image(7, 5))
    await cache.put('a', image(8, 4))
    assert.equal(await cache.match('a', 4), undefined)
    const response = (await cache.match('a', 5))!
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), new Uint8Array([7, 7]))
    assert.equal(response.headers.get('content-type'), 'image/png')
  })

  it('drops an image unused for longer than maxAgeSeconds', async () => {
    let now = 0
    const cache = new MemoryImageCache({ maxEntries: 5, maxAgeSeconds: 10 }, () => now)
    await cache.put('a', image(1))
    now = 9_000
    assert.ok(await cache.match('a', 1))
    now = 18_500
    assert.ok(await cache.match('a', 1), 'age counts from the last use')
    now = 30_000
    assert.equal(await cache.match('a', 1), undefined)
    assert.equal(await cache.has('a'), false)
  })

  it('clear() empties it and says how many there were', async () => {
    const cache = new MemoryImageCache({ maxEntries: 5, maxAgeSeconds: 60 })
    await cache.put('a', image(1))
    await cache.put('b', image(2))
    assert.equal(await cache.clear(), 2)
    assert.equal(await cache.has('a'), false)
  })
})
