/**
 * The decrypted-image cache, in every engine: a reload is served from Cache
 * Storage without the backend, an update replaces the cached picture, the
 * cache is bounded (maxEntries, maxAgeSeconds) and `persist: false` keeps
 * images in the worker's memory only.
 */
import {
  cachedImageExists,
  cachedImageIds,
  cacheSnapshot,
  entriesFor,
  expectPicture,
  expirationEntries,
  IMAGE_CACHE,
  initFrontend,
  initWithImageCache,
  postRecords,
  routeSrc,
  showFixtures,
  showImage,
} from '../browser'
import { expect, test, type BrowserSession, type Tab } from '../engines'
import { FIXTURE_NAMES, fixturePath, useHarness, type FixtureName } from '../harness'

const h = useHarness()

/** The test page in a new tab, its module initialised with `imageCache`. */
async function openWith(session: BrowserSession, imageCache: Record<string, unknown>): Promise<Tab> {
  const tab = await session.open(h.testPageUrl())
  await tab.waitFor(() => window.px !== undefined, undefined, { message: 'the page module loaded' })
  await initWithImageCache(tab, imageCache)
  return tab
}

/** Reloads the tab and waits for the page module (not yet initialised). */
async function reload(tab: Tab): Promise<void> {
  await tab.reload()
  await tab.waitFor(() => window.px !== undefined, undefined, { message: 'the page module loaded after the reload' })
}

const showAll = (tab: Tab, names: readonly FixtureName[]) => showFixtures(tab, h, names)

test('a reload shows every image from Cache Storage with zero backend requests', async ({ session }) => {
  const tab = await openWith(session, {})
  const ids = await showAll(tab, FIXTURE_NAMES)
  // Answered first, stored afterwards: wait for the writes to Cache Storage.
  await expect.poll(async () => new Set(await cachedImageIds(tab)), { message: 'Cache Storage holds every image' }).toEqual(new Set(ids))

  const backendBefore = h.backend.requests.length
  const siteBefore = h.site.requests.length
  await reload(tab)
  await initFrontend(tab)
  // As on every page load, the page gets its records from the app's own API (the site, not the backend).
  const reply = await tab.evaluate(
    async ({ port, ids }) => {
      const records = await (await fetch(`/api/records?backend=${port}&ids=${ids.join(',')}`)).json()
      await window.px.setImageRecords(records)
      return records.length
    },
    { port: h.backend.port, ids },
  )
  expect(reply).toBe(ids.length)
  for (const [i, name] of FIXTURE_NAMES.entries()) {
    expect((await showImage(tab, name, { src: routeSrc(ids[i]!) })).ok, `${name} shows after the reload`).toBe(true)
    await expectPicture(tab, name, name)
  }
  expect(h.backend.requests.slice(backendBefore), 'requests that reached the backend after the reload').toEqual([])
  const imageRequestsToSite = h.site.requests.slice(siteBefore).filter((r) => r.path.startsWith('/pixstore-image/'))
  expect(imageRequestsToSite, 'image requests that reached the site server after the reload').toEqual([])
})

test('after updateImage and a new record, the new picture shows and the old cache entry is gone', async ({ session }) => {
  const before: FixtureName = 'sunset-gradient.png'
  const after: FixtureName = 'checkerboard-red-blue.png'
  const original = await h.backend.saveImageFromFile(fixturePath(before))
  const id = original.id
  h.recordsUsed.push(original)

  const tab = await openWith(session, {})
  await postRecords(tab, [original])
  expect((await showImage(tab, 'v1', { src: routeSrc(id) })).ok).toBe(true)
  await expectPicture(tab, 'v1', before)
  await expect.poll(async () => entriesFor(await cacheSnapshot(tab), id).length, { message: 'version 1 written to Cache Storage' }).toBe(1)
  const oldBody = entriesFor(await cacheSnapshot(tab), id)[0]!.body

  const updated = await h.backend.updateImageFromFile(id, fixturePath(after))
  h.recordsUsed.push(updated)
  expect(updated.token, 'updateImage gives a new token').not.toBe(original.token)

  // Next page load: the app hands over the new record, then shows the image.
  await reload(tab)
  await initFrontend(tab)
  await postRecords(tab, [updated])
  expect((await showImage(tab, 'v2', { src: routeSrc(id) })).ok, 'the updated image shows').toBe(true)
  await expectPicture(tab, 'v2', after)

  await expect.poll(async () => entriesFor(await cacheSnapshot(tab), id).some((entry) => entry.body !== oldBody), { message: 'version 2 written to Cache Storage' }).toBe(true)
  const all = await cacheSnapshot(tab)
  expect(entriesFor(all, id).length, 'exactly one Cache Storage entry for the image').toBe(1)
  expect(all.filter((entry) => entry.body === oldBody).map((entry) => entry.url), 'no cache entry holds the old version').toEqual([])
})

test('maxEntries: 3, six images viewed: all six show, Cache Storage keeps the 3 most recently used', async ({ session }) => {
  const tab = await openWith(session, { maxEntries: 3 })
  const ids = await showAll(tab, FIXTURE_NAMES.slice(0, 6))
  // Images are answered first and stored afterwards: wait for the last writes.
  await expect.poll(async () => new Set(await cachedImageIds(tab)), { message: 'the 3 most recently used are kept, the rest evicted' }).toEqual(new Set(ids.slice(3)))
  const cached = await cachedImageIds(tab)
  expect(cached.length, `Cache Storage entries: ${cached}`).toBeLessThanOrEqual(3)
  for (const name of FIXTURE_NAMES.slice(0, 6)) await expectPicture(tab, name, name)
})

test('maxAgeSeconds: an image unused for longer is removed from Cache Storage and fetched again', async ({ session }) => {
  const tab = await openWith(session, { maxAgeSeconds: 1 })
  const [first] = await showAll(tab, ['ocean-waves.jpg'])
  await expect.poll(() => cachedImageExists(tab, first!)).toBe(true)
  // The subject is age: the first image must be older than maxAgeSeconds.
  await new Promise((resolve) => setTimeout(resolve, 2200))
  await showAll(tab, ['lime-triangles.webp'])
  await expect.poll(() => cachedImageIds(tab), { message: 'caching a new image expired the old one' }).not.toContain(first)
  const before = h.backend.requestsFor(first!).length
  // Another URL for the same image, or the browser would reuse the <img> it decoded before.
  expect((await showImage(tab, 'again', { src: `${routeSrc(first!)}?again` })).ok).toBe(true)
  await expectPicture(tab, 'again', 'ocean-waves.jpg')
  expect(h.backend.requestsFor(first!).length, 'the expired image was fetched from the backend again').toBeGreaterThan(before)
})

test('persist: false keeps images in worker memory only: 10 show, Cache Storage and IndexedDB stay empty', async ({ session }) => {
  // An earlier visit with the default (persist: true) left images on disk.
  const tab = await openWith(session, {})
  const [earlier] = await showAll(tab, ['pixel-heart.gif'])
  await expect.poll(() => cachedImageIds(tab)).toEqual([earlier])

  await reload(tab)
  await initWithImageCache(tab, { persist: false })
  await expect.poll(() => cachedImageIds(tab), { message: 'a persist: false worker removes what is on disk' }).toEqual([])
  const ids = await showAll(tab, FIXTURE_NAMES.slice(0, 10))
  expect(await cacheSnapshot(tab), 'Cache Storage after loading 10 images').toEqual([])
  expect(await tab.evaluate(() => caches.keys())).not.toContain(IMAGE_CACHE)
  expect(await expirationEntries(tab), 'no expiration bookkeeping either').toEqual([])
  expect(await cachedImageExists(tab, ids[0]!), 'the image is held in memory').toBe(true)
  const before = h.backend.requests.length
  expect((await showImage(tab, 'from-memory', { src: `${routeSrc(ids[0]!)}?again` })).ok).toBe(true)
  expect(h.backend.requests.length, 'shown again from memory, not from the backend').toBe(before)
})

test('images shown one after another are ranked in that order for eviction (no two share a use time)', async ({ session }) => {
  const tab = await openWith(session, {})
  const ids = await showAll(tab, FIXTURE_NAMES)
  await expect.poll(async () => (await expirationEntries(tab)).length, { message: 'every image has its bookkeeping' }).toBe(ids.length)
  const stamps = new Map(
    ((await expirationEntries(tab)) as { value: { url: string; timestamp: number } }[]).map(({ value }) => [new URL(value.url).pathname.split('/').pop()!, value.timestamp]),
  )
  const inShowOrder = ids.map((id) => stamps.get(id)!)
  expect(inShowOrder.every((stamp, i) => i === 0 || stamp > inShowOrder[i - 1]!), `use times in the order shown: ${inShowOrder.join(', ')}`).toBe(true)
})
