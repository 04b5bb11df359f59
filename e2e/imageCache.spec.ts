/**
 * The decrypted-image cache is bounded (workbox-expiration: least recently
 * used beyond maxEntries, unused beyond maxAgeSeconds), survives a full
 * disk, can stay in memory only, and is wiped on logout.
 */
import { expect, test, type Page } from '@playwright/test'
import { cachedImageExists, cacheSnapshot, expectPicture, fetchFromPage, indexedDbDump, openTestPage, routeSrc, showImage } from './browser'
import { FIXTURE_NAMES, useHarness, type FixtureName } from './harness'

const h = useHarness()
const IMAGE_CACHE = 'pixstore-images-v1'

async function initWith(page: Page, imageCache: Record<string, unknown>): Promise<void> {
  await openTestPage(page, h)
  await page.evaluate(async (cache) => {
    await window.px.initPixstoreFrontend({ ...(window.pxConfig as object), imageCache: cache })
  }, imageCache)
}

/** Shows each fixture (records first) and checks its pixels; returns the ids in order. */
async function showAll(page: Page, names: readonly FixtureName[]): Promise<string[]> {
  const records = await h.freshRecords(names)
  await page.evaluate((list) => window.px.setImageRecords(list), records)
  for (const [i, name] of names.entries()) {
    expect((await showImage(page, name, { src: routeSrc(records[i]!.id) })).ok, `${name} shows`).toBe(true)
    await expectPicture(page, name, name)
  }
  return records.map((record) => record.id)
}

const cachedIds = async (page: Page) => (await cacheSnapshot(page)).filter((entry) => entry.cache === IMAGE_CACHE).map((entry) => new URL(entry.url).pathname.split('/').pop()!)

const expirationEntries = async (page: Page) =>
  (await indexedDbDump(page)).databases.filter((db) => db.name === 'workbox-expiration').flatMap((db) => db.stores.flatMap((store) => store.entries))

test('maxEntries: 3, six images viewed: all six show, Cache Storage keeps the 3 most recently used', async ({ page }) => {
  await initWith(page, { maxEntries: 3 })
  const ids = await showAll(page, FIXTURE_NAMES.slice(0, 6))
  // Images are answered first and stored afterwards: wait for the last writes.
  await expect.poll(async () => new Set(await cachedIds(page)), { message: 'the 3 most recently used are kept, the rest evicted' }).toEqual(new Set(ids.slice(3)))
  const cached = await cachedIds(page)
  expect(cached.length, `Cache Storage entries: ${cached}`).toBeLessThanOrEqual(3)
  for (const name of FIXTURE_NAMES.slice(0, 6)) await expectPicture(page, name, name)
})

test('maxAgeSeconds: an image unused for longer is removed from Cache Storage and fetched again', async ({ page }) => {
  await initWith(page, { maxAgeSeconds: 1 })
  const [first] = await showAll(page, ['ocean-waves.jpg'])
  await expect.poll(() => cachedImageExists(page, first!)).toBe(true)
  await page.waitForTimeout(2200)
  await showAll(page, ['lime-triangles.webp'])
  await expect.poll(() => cachedIds(page), { message: 'caching a new image expired the old one' }).not.toContain(first)
  const before = h.backend.requestsFor(first!).length
  // Another URL for the same image, or the browser would reuse the <img> it decoded before.
  expect((await showImage(page, 'again', { src: `${routeSrc(first!)}?again` })).ok).toBe(true)
  await expectPicture(page, 'again', 'ocean-waves.jpg')
  expect(h.backend.requestsFor(first!).length, 'the expired image was fetched from the backend again').toBeGreaterThan(before)
})

test('persist: false keeps images in worker memory only: 10 show, Cache Storage and IndexedDB stay empty', async ({ page }) => {
  // An earlier visit with the default (persist: true) left images on disk.
  await initWith(page, {})
  const [earlier] = await showAll(page, ['pixel-heart.gif'])
  await expect.poll(() => cachedIds(page)).toEqual([earlier])

  await page.reload()
  await page.waitForFunction(() => window.px !== undefined)
  await page.evaluate(async () => {
    await window.px.initPixstoreFrontend({ ...(window.pxConfig as object), imageCache: { persist: false } })
  })
  await expect.poll(() => cachedIds(page), { message: 'a persist: false worker removes what is on disk' }).toEqual([])
  const ids = await showAll(page, FIXTURE_NAMES.slice(0, 10))
  expect(await cacheSnapshot(page), 'Cache Storage after loading 10 images').toEqual([])
  expect(await page.evaluate(() => caches.keys())).not.toContain(IMAGE_CACHE)
  expect(await expirationEntries(page), 'no expiration bookkeeping either').toEqual([])
  expect(await cachedImageExists(page, ids[0]!), 'the image is held in memory').toBe(true)
  const before = h.backend.requests.length
  expect((await showImage(page, 'from-memory', { src: `${routeSrc(ids[0]!)}?again` })).ok).toBe(true)
  expect(h.backend.requests.length, 'shown again from memory, not from the backend').toBe(before)
})

test('a full disk (QuotaExceededError) evicts older images and every image still shows', async ({ page }) => {
  await initWith(page, {})
  await showAll(page, FIXTURE_NAMES.slice(0, 3))
  await expect.poll(async () => (await cachedIds(page)).length, { message: 'the first three written' }).toBe(3)
  const origin = h.site.origin
  const cdp = await page.context().newCDPSession(page)
  const { usage } = await page.evaluate(() => navigator.storage.estimate())
  // Room for about two more small images, then the origin is full.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: (usage ?? 0) + 5000 })
  try {
    const first = await cachedIds(page)
    const later = await showAll(page, FIXTURE_NAMES.slice(3))
    // Every write on this full disk evicts first (IndexedDB and Cache Storage round trips): slow on a loaded machine.
    await expect.poll(() => cachedIds(page), { message: 'after evicting, the newest image was cached', timeout: 30_000 }).toContain(later.at(-1))
    const cached = await cachedIds(page)
    expect(first.filter((id) => !cached.includes(id)).length, `older images were evicted to make room (cached: ${cached.length} of ${FIXTURE_NAMES.length})`).toBeGreaterThan(0)
    expect(cached, 'after evicting, the newest image was cached').toContain(later.at(-1))
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
  }
})

test('logging out: clearImageCache() removes every image and its bookkeeping, and the records', async ({ page }) => {
  await initWith(page, {})
  const ids = await showAll(page, ['sunset-gradient.png', 'traffic-light.gif'])
  await expect.poll(async () => (await cachedIds(page)).length).toBe(2)
  await expect.poll(async () => (await expirationEntries(page)).length, { message: 'workbox-expiration tracks the cached images' }).toBe(2)

  expect(await page.evaluate(() => window.px.clearImageCache())).toBe(2)
  expect(await cacheSnapshot(page), 'Cache Storage after clearImageCache').toEqual([])
  expect(await expirationEntries(page), 'expiration bookkeeping after clearImageCache').toEqual([])
  const after = await fetchFromPage(page, routeSrc(ids[0]!))
  expect({ status: after.status, state: after.state }, 'neither the worker nor the page holds the record any more').toEqual({ status: 404, state: 'NoRecord' })
})
