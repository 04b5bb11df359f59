/**
 * A large image's chunked answer over its life, in every engine: held by
 * testing/pacingProxy.ts after a few records (deterministic: the proxy stops
 * at a byte count until the test releases it), then
 * - a logout (clearImageCache) while it streams: the `<img>` fails at once,
 *   the worker stops reading, nothing is cached, the other tab gets nothing,
 *   and a new login loads it again;
 * - an Updated answer (the image changed on the server after the page got
 *   its record) whose last record fails: its token and meta are not adopted
 *   (the next request is answered Updated again), and once one arrives whole
 *   it is adopted (the next request is a plain ChunkedSuccess);
 * - more `<img>`s for the same image (same page, another tab) while it
 *   streams: one request reaches the endpoint, each `<img>` gets the whole
 *   image, one cache entry; when the stream fails, each fails and nothing is cached.
 * Record byte offsets come from testing/chunkedRecords.ts (no record size here).
 */
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chunkedRecordCount } from '../../protocol/chunked'
import { decodeImageMeta } from '../../protocol/record'
import { ChunkedState, encodeWireHead, TOKEN_HEADER } from '../../protocol/wire'
import { chunkedRecordRange } from '../../testing/chunkedRecords'
import { makeJpeg } from '../../testing/jpegImages'
import { startPacingProxy, type PacingProxy } from '../../testing/pacingProxy'
import {
  addImage,
  cachedImageExists,
  cacheSnapshot,
  clearImageCache,
  comparePixelsTo,
  entriesFor,
  imageErrors,
  imageSettled,
  imagesShown,
  openTabLoggingErrors,
  postRecords,
  routeSrc,
} from '../browser'
import { expect, test, type BrowserSession, type Tab } from '../engines'
import { ROUTE, useHarness, type ImageRecord } from '../harness'

const h = useHarness()

/** A saved JPEG large enough to be answered chunked (far over CHUNKED_MIN_PLAINTEXT, 256 KiB). */
interface LargeImage {
  id: string
  jpeg: Buffer
  /** The chunked payload's plaintext: the format byte, then the JPEG. */
  plaintextLength: number
  /** A JPEG file to update it with, when the test needs a second version. */
  file: (jpeg: Buffer) => string
}

let dir: string
const images = {} as Record<'logout' | 'updated' | 'joined' | 'joinedFailing', LargeImage>

test.beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixstore-stream-lifecycle-'))
  const file = (jpeg: Buffer) => {
    const name = path.join(dir, `${jpeg.length}-${Math.random().toString(36).slice(2)}.jpg`)
    writeFileSync(name, jpeg)
    return name
  }
  for (const [seed, name] of (['logout', 'updated', 'joined', 'joinedFailing'] as const).entries()) {
    const jpeg = makeJpeg({ width: 1280, height: 960, seed: 31 + seed, progressive: false, quality: 90, grain: 20 })
    const { id } = await h.backend.saveImageFromFile(file(jpeg))
    images[name] = { id, jpeg, plaintextLength: 1 + jpeg.length, file }
  }
})

test.afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

const isImage = (id: string) => (requestPath: string) => requestPath === `${ROUTE}/${id}`
const answersFor = (proxy: PacingProxy, id: string) => proxy.answers.filter((answer) => answer.path === `${ROUTE}/${id}`)
/** The test page with the proxy as its backend. */
const openTab = (session: BrowserSession, proxy: PacingProxy) => openTabLoggingErrors(session, `${h.site.origin}/test.html?backend=${proxy.port}`)
/** Wire offset where record `index` of a ChunkedSuccess answer (a one-byte head) ends. */
const successRecordEnd = (image: LargeImage, index: number) => 1 + chunkedRecordRange(image.plaintextLength, index).end

/**
 * For each `<img data-e2e=NAME>`: how many RGBA bytes of its pixels differ
 * from the original JPEG's, decoded by the same browser from a blob URL (0:
 * the same picture; -1: nothing decoded).
 */
async function differingFromOriginal(tab: Tab, names: string[], jpeg: Buffer): Promise<number[]> {
  const differing: number[] = []
  for (const name of names) differing.push((await comparePixelsTo(tab, `img[data-e2e="${name}"]`, jpeg.toString('base64'), 'image/jpeg')).differingBytes)
  return differing
}

/**
 * Adds a small image behind the proxy to each tab (another one per tab, so
 * none is served from the cache) and waits until its request reached the
 * proxy: a tab's image requests reach the worker in the order they were
 * made, so the `<img>`s added before it are in the worker's hands by then
 * (joined, or on their way to the network).
 */
async function afterEarlierRequests(proxy: PacingProxy, tabs: Tab[]): Promise<void> {
  const sentinels = await h.freshRecords(SENTINELS.slice(0, tabs.length))
  for (const [i, tab] of tabs.entries()) {
    const sentinel = sentinels[i]!
    await postRecords(tab, [sentinel])
    await addImage(tab, 'sentinel', routeSrc(sentinel.id))
    await expect.poll(() => answersFor(proxy, sentinel.id).length, { message: 'the sentinel image reached the endpoint' }).toBe(1)
  }
}
const SENTINELS = ['sunset-gradient.png', 'ocean-waves.jpg'] as const

/** Two tabs holding `image`'s record; `<img data-e2e=a>` in the first streams it, its answer held after record `lastRecord`. */
async function streamingInTwoTabs(session: BrowserSession, proxy: PacingProxy, image: LargeImage, lastRecord: number): Promise<{ first: Tab; second: Tab; record: ImageRecord }> {
  const first = await openTab(session, proxy)
  const second = await openTab(session, proxy)
  const record = await h.backend.getImageRecord(image.id)
  for (const tab of [first, second]) await postRecords(tab, [record])
  proxy.holdAt(successRecordEnd(image, lastRecord), isImage(image.id))
  await addImage(first, 'a', routeSrc(image.id))
  await proxy.held()
  return { first, second, record }
}

test('logout while a large image streams: its <img> fails at once, the worker stops reading, nothing is cached or shown in any tab; a new login loads it', async ({ session }) => {
  const proxy = await startPacingProxy({ target: h.backend.origin })
  try {
    const image = images.logout
    // The answer stops after its first three records: the top of the picture may show.
    const { first, second } = await streamingInTwoTabs(session, proxy, image, 2)
    // The other tab shows the same image while it streams.
    await addImage(second, 'a', routeSrc(image.id))

    await clearImageCache(first)
    // The rest of the answer is still held: the <img>s fail because of the logout, not because of anything the network did.
    expect(await imageSettled(first, 'a'), 'the streaming <img> fails at the logout').toBe('error')
    expect(await imageSettled(second, 'a'), 'the other tab\'s <img> fails too').toBe('error')
    for (const tab of [first, second]) expect(await imagesShown(tab, ['a']), 'nothing of the picture stays shown').toBe(0)
    // The worker cancelled its read of the answer (the proxy saw it closed before its end), so nothing more can reach an <img> or the cache.
    await expect.poll(() => answersFor(proxy, image.id).map((answer) => answer.end), { message: 'one request, closed by the worker while held' }).toEqual(['closed'])
    proxy.release()
    expect(await cacheSnapshot(first), 'Cache Storage after the logout').toEqual([])

    // The other tab asks again (its app was not told): NoRecord, and still nothing in Cache Storage.
    await addImage(second, 'again', `${routeSrc(image.id)}?again`)
    expect(await imageSettled(second, 'again')).toBe('error')
    expect(await cacheSnapshot(second), 'Cache Storage seen from the other tab').toEqual([])
    const noRecord = { id: image.id, state: 'NoRecord', status: 404 }
    await expect.poll(() => imageErrors(first), { message: 'onImageError in the first tab' }).toEqual([noRecord])
    await expect.poll(() => imageErrors(second), { message: 'onImageError in the other tab' }).toEqual([noRecord, noRecord])
    expect(answersFor(proxy, image.id), 'no request after the logout').toHaveLength(1)

    // A new login: the app hands over records again; the image loads whole and is cached.
    await postRecords(first, [await h.backend.getImageRecord(image.id)])
    await addImage(first, 'login', `${routeSrc(image.id)}?login`)
    expect(await imageSettled(first, 'login')).toBe('load')
    expect(await differingFromOriginal(first, ['login'], image.jpeg)).toEqual([0])
    await first.waitFor((id) => window.px.cachedImageExists(id), image.id, { message: 'cached after the new login', timeout: 20_000 })
    expect(entriesFor(await cacheSnapshot(first), image.id)).toHaveLength(1)
    expect(answersFor(proxy, image.id).map((answer) => answer.firstByte)).toEqual([ChunkedState.ChunkedSuccess, ChunkedState.ChunkedSuccess])
  } finally {
    await proxy.close()
  }
})

test('an Updated chunked answer whose last record fails is not adopted (the next request is answered Updated again) nor cached; one that arrives whole is adopted and cached', async ({ session }) => {
  const proxy = await startPacingProxy({ target: h.backend.origin })
  try {
    const image = images.updated
    const pageRecord = await h.backend.getImageRecord(image.id)
    // The image changes on the server after the page got its record.
    const newJpeg = makeJpeg({ width: 1280, height: 960, seed: 41, progressive: false, quality: 90, grain: 20 })
    const updated = await h.backend.updateImageFromFile(image.id, image.file(newJpeg))
    expect(updated.token).toBeGreaterThan(pageRecord.token)
    const tab = await openTab(session, proxy)
    await postRecords(tab, [pageRecord])

    // The answer's last byte: the tag of its last record (whatever the record sizes).
    const head = encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: updated.token, meta: decodeImageMeta(updated.meta) }).length
    const plaintextLength = 1 + newJpeg.length
    const last = chunkedRecordRange(plaintextLength, chunkedRecordCount(plaintextLength) - 1)
    proxy.corruptAt(head + last.end - 1, isImage(image.id))
    await addImage(tab, 'altered', routeSrc(image.id))
    expect(await imageSettled(tab, 'altered'), 'the last record does not authenticate').toBe('error')
    proxy.corruptAt(null)
    await expect.poll(() => imageErrors(tab), { message: 'onImageError' }).toEqual([{ id: image.id, state: 'DecryptionFailed', status: 502 }])
    expect(answersFor(proxy, image.id).map((answer) => answer.firstByte), 'a ChunkedUpdated answer').toEqual([ChunkedState.ChunkedUpdated])
    expect(await cachedImageExists(tab, image.id), 'nothing cached').toBe(false)
    expect(entriesFor(await cacheSnapshot(tab), image.id)).toEqual([])

    // An honest network: the request still carries the page's token (the endpoint answers Updated again), and the new version shows.
    await addImage(tab, 'honest', `${routeSrc(image.id)}?honest`)
    expect(await imageSettled(tab, 'honest')).toBe('load')
    expect(answersFor(proxy, image.id).map((answer) => answer.firstByte), 'the worker kept the old token after the failed answer').toEqual([
      ChunkedState.ChunkedUpdated,
      ChunkedState.ChunkedUpdated,
    ])
    expect(await differingFromOriginal(tab, ['honest'], newJpeg), 'the updated picture').toEqual([0])
    await tab.waitFor((id) => window.px.cachedImageExists(id), image.id, { message: 'cached once whole', timeout: 20_000 })
    const [entry] = entriesFor(await cacheSnapshot(tab), image.id)
    expect(new Headers(entry!.headers).get(TOKEN_HEADER), 'cached under the new version').toBe(String(updated.token))

    // Adopted: the next <img> is served from the cache under the new version, no request...
    await addImage(tab, 'cached', `${routeSrc(image.id)}?cached`)
    expect(await imageSettled(tab, 'cached')).toBe('load')
    expect(answersFor(proxy, image.id), 'served from the cache').toHaveLength(2)
    // ...and without the cached copy, the request carries the new token: a plain ChunkedSuccess.
    await tab.evaluate((id) => window.px.deleteCachedImage(id), image.id)
    await addImage(tab, 'refetched', `${routeSrc(image.id)}?refetched`)
    expect(await imageSettled(tab, 'refetched')).toBe('load')
    expect(answersFor(proxy, image.id).map((answer) => answer.firstByte)).toEqual([ChunkedState.ChunkedUpdated, ChunkedState.ChunkedUpdated, ChunkedState.ChunkedSuccess])
    expect(await differingFromOriginal(tab, ['cached', 'refetched'], newJpeg)).toEqual([0, 0])
  } finally {
    await proxy.close()
  }
})

/** Adds `<img>`s for `image` while its answer is held after two records: the same src again, imageUrl()'s form, and the same src in the second tab. */
async function joinWhileHeld(session: BrowserSession, proxy: PacingProxy, image: LargeImage): Promise<{ first: Tab; second: Tab }> {
  const { first, second, record } = await streamingInTwoTabs(session, proxy, image, 1)
  await addImage(first, 'b', routeSrc(image.id))
  await addImage(first, 'c', await first.evaluate((record) => window.px.imageUrl(record), record))
  await addImage(second, 'd', routeSrc(image.id))
  await afterEarlierRequests(proxy, [first, second])
  expect(answersFor(proxy, image.id), 'one request while held').toHaveLength(1)
  return { first, second }
}

test('more <img>s for a large image while it streams (same page, other tab) join its fetch: one request, each gets the whole picture, one cache entry', async ({ session }) => {
  const proxy = await startPacingProxy({ target: h.backend.origin })
  try {
    const image = images.joined
    const { first, second } = await joinWhileHeld(session, proxy, image)
    proxy.release()
    for (const name of ['a', 'b', 'c']) expect(await imageSettled(first, name), `${name} loads`).toBe('load')
    expect(await imageSettled(second, 'd'), 'the other tab\'s loads').toBe('load')
    // Each shows the whole picture (a joiner given only the rest of the stream would decode to nothing).
    expect(await differingFromOriginal(first, ['a', 'b', 'c'], image.jpeg)).toEqual([0, 0, 0])
    expect(await differingFromOriginal(second, ['d'], image.jpeg)).toEqual([0])
    await first.waitFor((id) => window.px.cachedImageExists(id), image.id, { message: 'cached once whole', timeout: 20_000 })
    expect(entriesFor(await cacheSnapshot(second), image.id), 'one cache entry').toHaveLength(1)
    expect(answersFor(proxy, image.id).map(({ firstByte, end }) => ({ firstByte, end })), 'one request, read to its end').toEqual([{ firstByte: ChunkedState.ChunkedSuccess, end: 'finished' }])
  } finally {
    await proxy.close()
  }
})

test('when the stream they joined fails, every <img> fails (DecryptionFailed) and nothing is cached', async ({ session }) => {
  const proxy = await startPacingProxy({ target: h.backend.origin })
  try {
    const image = images.joinedFailing
    // A byte of record 4, past the hold: the first two records show, the failure comes after the joiners joined.
    proxy.corruptAt(1 + chunkedRecordRange(image.plaintextLength, 4).start + 100, isImage(image.id))
    const { first, second } = await joinWhileHeld(session, proxy, image)
    proxy.release()
    for (const name of ['a', 'b', 'c']) expect(await imageSettled(first, name), `${name} fails`).toBe('error')
    expect(await imageSettled(second, 'd'), 'the other tab\'s fails').toBe('error')
    expect(await imagesShown(first, ['a', 'b', 'c'])).toBe(0)
    // One report per <img> the worker saw (the browser may give a second same-src <img> of a page the first one's response).
    for (const tab of [first, second]) {
      await tab.waitFor((id) => window.imageErrors.some((event) => event.id === id), image.id, { message: 'onImageError' })
      const reported = new Set((await imageErrors(tab)).map(({ id, state, status }) => `${id} ${state} ${status}`))
      expect([...reported], 'onImageError: DecryptionFailed for the image, nothing else').toEqual([`${image.id} DecryptionFailed 502`])
    }
    expect(await cachedImageExists(first, image.id)).toBe(false)
    expect(entriesFor(await cacheSnapshot(first), image.id), 'nothing cached').toEqual([])
    expect(answersFor(proxy, image.id).map((answer) => answer.firstByte), 'one request').toEqual([ChunkedState.ChunkedSuccess])
  } finally {
    await proxy.close()
  }
})
