/**
 * The decrypted-image cache survives a full disk (quota set through CDP,
 * Chromium only) and is wiped on logout. Its bounds (maxEntries,
 * maxAgeSeconds) and `persist: false` are cross-engine scenarios
 * (scenarios/cache.scenario.ts).
 */
import { expect, test, type Page } from '@playwright/test'
import { cachedImageIds, cacheSnapshot, expirationEntries, fetchFromPage, initWithImageCache, openTestPage, routeSrc, showFixtures } from './browser'
import { FIXTURE_NAMES, useHarness, type FixtureName } from './harness'

const h = useHarness()
async function initWith(page: Page, imageCache: Record<string, unknown>): Promise<void> {
  await openTestPage(page, h)
  await initWithImageCache(page, imageCache)
}

const showAll = (page: Page, names: readonly FixtureName[]) => showFixtures(page, h, names)

test('a full disk (QuotaExceededError) evicts older images and every image still shows', async ({ page }) => {
  await initWith(page, {})
  await showAll(page, FIXTURE_NAMES.slice(0, 3))
  await expect.poll(async () => (await cachedImageIds(page)).length, { message: 'the first three written' }).toBe(3)
  const origin = h.site.origin
  const cdp = await page.context().newCDPSession(page)
  const { usage } = await page.evaluate(() => navigator.storage.estimate())
  // Room for about two more small images, then the origin is full.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: (usage ?? 0) + 5000 })
  try {
    const first = await cachedImageIds(page)
    const later = await showAll(page, FIXTURE_NAMES.slice(3))
    // Every write on this full disk evicts first (IndexedDB and Cache Storage round trips): slow on a loaded machine.
    await expect.poll(() => cachedImageIds(page), { message: 'after evicting, the newest image was cached', timeout: 30_000 }).toContain(later.at(-1))
    const cached = await cachedImageIds(page)
    expect(first.filter((id) => !cached.includes(id)).length, `older images were evicted to make room (cached: ${cached.length} of ${FIXTURE_NAMES.length})`).toBeGreaterThan(0)
    expect(cached, 'after evicting, the newest image was cached').toContain(later.at(-1))
  } finally {
    await cdp.send('Storage.overrideQuotaForOrigin', { origin })
  }
})

test('logging out: clearImageCache() removes every image and its bookkeeping, and the records', async ({ page }) => {
  await initWith(page, {})
  const ids = await showAll(page, ['sunset-gradient.png', 'traffic-light.gif'])
  await expect.poll(async () => (await cachedImageIds(page)).length).toBe(2)
  await expect.poll(async () => (await expirationEntries(page)).length, { message: 'workbox-expiration tracks the cached images' }).toBe(2)

  expect(await page.evaluate(() => window.px.clearImageCache())).toBe(2)
  expect(await cacheSnapshot(page), 'Cache Storage after clearImageCache').toEqual([])
  expect(await expirationEntries(page), 'expiration bookkeeping after clearImageCache').toEqual([])
  const after = await fetchFromPage(page, routeSrc(ids[0]!))
  expect({ status: after.status, state: after.state }, 'neither the worker nor the page holds the record any more').toEqual({ status: 404, state: 'NoRecord' })
})
