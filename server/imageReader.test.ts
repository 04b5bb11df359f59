// The read path's memory bound with a real SQLite store: whole ciphertexts
// held for answers count against memoryCacheBytes until released; beyond it
// the reader streams.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { makePng } from '../testing/images'
import { PixstoreBackend, type WireAnswer } from './backend'
import { CiphertextCache } from './ciphertextCache'
import { ChunkedState } from '../protocol/wire'
import { decryptChunked } from './chunkedCrypto'
import { ImageReader, type ServedCiphertext } from './imageReader'
import { TEST_SECRET, tempStore } from '../testing/testSupport'

describe('ImageReader', () => {
  const temp = tempStore()
  const backend = new PixstoreBackend({ ...temp.config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'throw' }, { env: {} })
  const ids: string[] = []
  before(async () => {
    await backend.open()
    for (let i = 0; i < 8; i++) ids.push((await backend.saveImage(makePng(90_000, 30 + i)))!.id)
  })
  after(async () => {
    await backend.close()
    temp.cleanup()
  })

  it('holds at most memoryCacheBytes of whole ciphertexts for answers in flight, streams beyond, and reads whole again once they are released', async () => {
    // 400 KB: four 90 KB ciphertexts fit (each below a quarter of the budget), the fifth does not.
    const reader = new ImageReader(backend.store, 400_000)
    const served: ServedCiphertext[] = []
    for (const id of ids.slice(0, 6)) served.push((await reader.ciphertextOf((await backend.store.get(id))!, true))!)
    assert.deepEqual(served.map((answer) => (answer.body instanceof Readable ? 'stream' : 'whole')), ['whole', 'whole', 'whole', 'whole', 'stream', 'stream'])
    for (const answer of served) {
      if (answer.body instanceof Readable) answer.body.destroy()
      answer.release()
    }
    // Released: the budget is free again (the cache keeps what fits), so the next misses are whole reads.
    const again = (await reader.ciphertextOf((await backend.store.get(ids[6]!))!, true))!
    assert.ok(Buffer.isBuffer(again.body), 'whole once the earlier answers let go')
    again.release()
  })

  it('answers a chunked request for a version it does not hold from the file as it reads, without a whole read first; a held one from memory', async () => {
    const png = makePng(400_000, 40)
    const big = (await backend.saveImage(png))!
    const reader = new ImageReader(backend.store, 64 * 1024 * 1024, { verifyProof: null, unwrapKey: async (stored) => Buffer.from(stored) })
    const meta = (await backend.store.get(big.id))!
    const decrypt = async (answer: WireAnswer) => {
      assert.equal(answer.head[0], ChunkedState.ChunkedSuccess)
      assert.ok(answer.body instanceof Readable)
      const chunks: Buffer[] = []
      for await (const chunk of answer.body) chunks.push(chunk as Buffer)
      answer.release?.()
      return decryptChunked(Buffer.concat(chunks), meta)
    }
    const streamed = await decrypt(await reader.answer(big.id, big.token, null, true, true))
    assert.equal(await reader.currentFromCache(big.id, big.token), null, 'the chunked answer did not read the version whole (into the cache) before its first record')
    const success = await reader.answer(big.id, big.token, null, true, false)
    assert.ok(Buffer.isBuffer(success.body), 'a Success answer reads it whole, and the cache keeps it')
    success.release?.()
    assert.ok(await reader.currentFromCache(big.id, big.token))
    assert.deepEqual(await decrypt(await reader.answer(big.id, big.token, null, true, true)), streamed, 'the held buffer, transcoded: the same image')
    assert.deepEqual(streamed.subarray(1), png, 'the image saved, after its format byte')
  })

  it('shares one read among concurrent misses of one version', async () => {
    const reader = new ImageReader(backend.store, 400_000)
    const image = (await backend.store.get(ids[7]!))!
    const answers = await Promise.all(Array.from({ length: 5 }, () => reader.ciphertextOf(image, true)))
    assert.ok(answers.every((answer) => answer!.body === answers[0]!.body), 'the same buffer, read once')
    for (const answer of answers) answer!.release()
  })
})

describe('CiphertextCache pins and reservations', () => {
  it('counts a pinned buffer after its eviction until released, and refuses reservations beyond the budget', () => {
    const cache = new CiphertextCache(400)
    cache.set('a', Buffer.alloc(100))
    const release = cache.pin('a', cache.get('a')!)
    for (const key of ['b', 'c', 'd', 'e']) cache.set(key, Buffer.alloc(100))
    assert.deepEqual(cache.size, { entries: 4, bytes: 400 }, 'a stays: an answer still holds it')
    assert.ok(cache.get('a'), 'kept while pinned: it is in memory anyway')
    assert.equal(cache.reserve(100), true, 'an unpinned entry is evicted to make room')
    assert.deepEqual(cache.size.bytes, 400)
    cache.unreserve(100)
    cache.set('f', Buffer.alloc(100))
    const pins = ['b', 'c', 'd', 'e', 'f'].filter((key) => cache.get(key)).map((key) => cache.pin(key, cache.get(key)!))
    assert.deepEqual(cache.size, { entries: 4, bytes: 400 })
    assert.equal(cache.reserve(100), false, 'everything held is pinned: no room')
    release()
    release() // twice does nothing
    assert.equal(cache.reserve(100), true, 'a released entry can go')
    cache.unreserve(100)
    for (const unpin of pins) unpin()
    assert.ok(cache.size.bytes <= 400)
  })
})
