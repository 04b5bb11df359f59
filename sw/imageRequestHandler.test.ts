import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { RouteHandlerCallbackOptions } from 'workbox-core/types.js'
import { RECORD_OVERHEAD } from '../protocol/chunked'
import { backendImageUrl } from '../protocol/workerConfig'
import { backendOnPort } from '../testing/backendOnPort'
import { chunkedRecordRange } from '../testing/chunkedRecords'
import { makePng } from '../testing/images'
import { startPacingProxy } from '../testing/pacingProxy'
import { ImageFailure } from './imageFailure'
import { ImageRequestHandler } from './imageRequestHandler'
import { MemoryImageCache } from './memoryImageCache'
import { RecordStore } from './recordStore'

/** The page's (and worker's) origin: the backend is on another one, so the worker asks for chunked answers in the query. */
const PAGE_ORIGIN = 'http://app.example'
const ROUTE = '/pixstore-image'

/** Waits for something the event loop's I/O makes true: checked once per turn, no timer. */
async function turnsUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve))
}

/**
 * The worker's image handler against the real backend behind the pacing
 * proxy, which holds a large image's chunked answer after its first two
 * records: what a logout and a second request do to a stream in the middle.
 */
describe('ImageRequestHandler with a chunked answer held mid-stream', () => {
  const env = backendOnPort()
  // Eight records and a bit: answered chunked.
  const png = makePng(8 * 65_536 + 1000, 7)
  before(env.start)
  after(env.stop)

  /**
   * Each test its own image, proxy (held after the head and records 0 and 1)
   * and worker state: a test that fails leaves nothing the next one meets.
   */
  async function setup(t: { after: (fn: () => Promise<void>) => void }, cache = new MemoryImageCache({ maxEntries: 10, maxAgeSeconds: 600, maxBytes: 64 << 20 })) {
    const record = (await env.backend.saveImage(png))!
    const proxy = await startPacingProxy({ target: env.url })
    t.after(() => proxy.close())
    const config = { backendOrigin: proxy.origin, route: ROUTE }
    const records = new RecordStore()
    records.set(record)
    const clients = { get: async () => undefined, matchAll: async () => [] } as unknown as Clients
    const handler = new ImageRequestHandler({ records, cache: () => cache, config: () => config, clients, origin: PAGE_ORIGIN })
    const isImage = (requestPath: string) => requestPath === `${ROUTE}/${record.id}`
    proxy.holdAt(1 + chunkedRecordRange(1 + png.length, 1).end, isImage)
    return {
      proxy,
      records,
      isImage,
      cached: () => cache.has(backendImageUrl(config, record.id)),
      answers: () => proxy.answers.filter((answer) => isImage(answer.path)),
      request: () =>
        handler.handle({
          event: { clientId: '', request: new Request(`${PAGE_ORIGIN}${ROUTE}/${record.id}`), waitUntil: () => {} },
          params: { id: record.id },
        } as unknown as RouteHandlerCallbackOptions),
    }
  }

  it('a logout fails the streamed image at once with NoRecord, while the answer is still held, and stops the network read; nothing is cached', { timeout: 30_000 }, async (t) => {
    const { proxy, records, answers, cached, request } = await setup(t)
    const response = await request()
    assert.equal(response.status, 200)
    await proxy.held()
    // What records 0 and 1 carry (the format byte aside) reaches the reader.
    const shown = chunkedRecordRange(1 + png.length, 1).end - 2 * RECORD_OVERHEAD - 1
    const reader = response.body!.getReader()
    let received = 0
    while (received < shown) received += (await reader.read()).value!.length
    assert.equal(received, shown)

    records.clear() // what logOut does first
    // Nothing more arrives while held: the read ends only because the logout ended the stream (else the test times out here).
    await assert.rejects(reader.read(), (error) => error instanceof ImageFailure && error.state === 'NoRecord')
    await turnsUntil(() => answers()[0]?.end !== undefined)
    assert.deepEqual(
      answers().map((answer) => answer.end),
      ['closed'],
      'the worker closed the answer before its end',
    )
    proxy.release()
    assert.equal(await cached(), false)
  })

  it('a second request while the first streams joins it: one backend request, both get the whole image, cached once', { timeout: 30_000 }, async (t) => {
    const { proxy, answers, cached, request } = await setup(t)
    const first = await request()
    await proxy.held()
    const second = request()
    // The second request's way to the shared fetch is in memory (record, memory cache): one turn of the event loop takes it there.
    await new Promise((resolve) => setImmediate(resolve))
    proxy.release()
    const [firstImage, secondImage] = await Promise.all([first.arrayBuffer(), second.then((response) => response.arrayBuffer())])
    assert.ok(Buffer.from(firstImage).equals(png), 'the first request streams the whole image')
    assert.ok(Buffer.from(secondImage).equals(png), 'the second gets the whole image too, not the rest of the stream')
    assert.equal(answers().length, 1, 'one request reached the backend')
    assert.equal(await cached(), true)
  })

  it('when the joined stream fails, the second request fails too (DecryptionFailed) and nothing is cached', { timeout: 30_000 }, async (t) => {
    const { proxy, isImage, answers, cached, request } = await setup(t)
    proxy.corruptAt(1 + chunkedRecordRange(1 + png.length, 4).start + 10, isImage)
    const first = await request()
    await proxy.held()
    const second = request()
    await new Promise((resolve) => setImmediate(resolve))
    proxy.release()
    await assert.rejects(first.arrayBuffer(), (error) => error instanceof ImageFailure && error.state === 'DecryptionFailed')
    const failed = await second
    assert.deepEqual({ status: failed.status, state: failed.headers.get('x-pixstore-state') }, { status: 502, state: 'DecryptionFailed' })
    assert.equal(answers().length, 1, 'one request reached the backend')
    assert.equal(await cached(), false)
  })

  it('a cache that does not take the image (Cache Storage unavailable) stalls nothing: a request that joined gets the whole image too', { timeout: 30_000 }, async (t) => {
    /** putStream as CacheStorageImageCache answers when caches.open() fails: false, the stream never read. */
    class UnavailableCache extends MemoryImageCache {
      override async putStream(): Promise<boolean> {
        return false
      }
    }
    const { proxy, isImage, answers, request } = await setup(t, new UnavailableCache({ maxEntries: 10, maxAgeSeconds: 600 }))
    // Both requests while the answer has sent only its head: the second joins the fetch before the stream begins.
    proxy.holdAt(1, isImage)
    const first = request()
    await proxy.held()
    const second = request()
    await new Promise((resolve) => setImmediate(resolve))
    proxy.release()
    assert.ok(Buffer.from(await (await first).arrayBuffer()).equals(png))
    // Nothing was cached for it: once the joined answer ended, the second request fetches the image itself.
    assert.ok(Buffer.from(await (await second).arrayBuffer()).equals(png), 'the joiner gets the whole image')
    assert.equal(answers().length, 2)
  })
})
