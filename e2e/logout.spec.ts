/**
 * Logging out in one tab logs out the whole browser: after clearImageCache()
 * resolves, no tab hands a record back to the worker, nothing decrypted is
 * cached again (not even by a request that was in flight), and a fresh tab
 * shows none of the images until its app hands over records of its own.
 */
import { expect, test, type Page } from '@playwright/test'
import { startPassThroughProxy } from '../testing/passThroughProxy'
import {
  addImage,
  cachedImageExists,
  cacheSnapshot,
  clearImageCache,
  expectPictureSoon,
  fetchFromPage,
  imageErrors,
  imageSettled,
  imagesShown,
  initFrontendLoggingErrors,
  openTestPage,
  postRecords,
  routeSrc,
} from './browser'
import { useHarness, type FixtureName } from './harness'

const h = useHarness()

const NAMES = ['sunset-gradient.png', 'ocean-waves.jpg', 'lime-triangles.webp', 'pixel-heart.gif'] as const satisfies readonly FixtureName[]

async function openLoggedIn(page: Page): Promise<void> {
  await openTestPage(page, h)
  await initFrontendLoggingErrors(page)
}

test('logout in one tab: the other tab scrolls and gets NoRecord, a fresh tab shows nothing, nothing is cached; a new login works', async ({ page, context }) => {
  const [a, b, c, d] = NAMES
  const records = await h.freshRecords(NAMES)
  const id = (name: FixtureName) => records[(NAMES as readonly FixtureName[]).indexOf(name)]!.id
  const first = page
  const second = await context.newPage()
  for (const tab of [first, second]) {
    await openLoggedIn(tab)
    await postRecords(tab, records)
  }
  for (const name of [a, b]) await addImage(first, name, routeSrc(id(name)))
  await addImage(second, a, routeSrc(id(a)))
  for (const name of [a, b]) expect(await imageSettled(first, name), `${name} shows in the first tab`).toBe('load')
  expect(await imageSettled(second, a), 'the second tab shows its image').toBe('load')
  await expect.poll(() => cachedImageExists(first, id(a)), { message: 'the image is cached before logging out' }).toBe(true)

  expect(await clearImageCache(first), 'clearImageCache reports the cached images it removed').toEqual(expect.any(Number))

  // The second tab's app was not told: it adds images (it scrolls) and asks for one it showed before.
  for (const name of [c, d]) await addImage(second, name, routeSrc(id(name)))
  for (const name of [c, d]) expect(await imageSettled(second, name), `${name} in the other tab fails after the logout`).toBe('error')
  expect(await imagesShown(second, [c, d])).toBe(0)
  const again = await fetchFromPage(second, routeSrc(id(a)))
  expect({ status: again.status, state: again.state }, 'an image the other tab showed before is gone too').toEqual({ status: 404, state: 'NoRecord' })
  const failed = (await imageErrors(second)).filter((event) => [id(c), id(d)].includes(event.id))
  expect(failed, 'onImageError in the other tab: NoRecord for each').toHaveLength(2)
  expect(failed).toEqual(expect.arrayContaining([id(c), id(d)].map((imageId) => ({ id: imageId, state: 'NoRecord', status: 404 }))))
  expect(await cacheSnapshot(second), 'Cache Storage after the other tab scrolled').toEqual([])

  // The next user opens a tab: no record anywhere, nothing cached.
  const fresh = await context.newPage()
  await openLoggedIn(fresh)
  for (const name of NAMES) await addImage(fresh, name, routeSrc(id(name)))
  for (const name of NAMES) expect(await imageSettled(fresh, name), `${name} in a fresh tab`).toBe('error')
  expect(await imagesShown(fresh, NAMES), 'images shown in the fresh tab').toBe(0)
  expect((await imageErrors(fresh)).map((event) => event.state), 'the fresh tab: NoRecord for every image').toEqual(NAMES.map(() => 'NoRecord'))
  expect(await cacheSnapshot(fresh), 'Cache Storage after the fresh tab').toEqual([])
  for (const name of NAMES) expect(await cachedImageExists(fresh, id(name)), `${name} not cached`).toBe(false)

  // A new login in the other tab: its app hands over records again, and the images that failed show.
  await postRecords(second, await h.freshRecords(NAMES))
  for (const name of [c, d]) await expectPictureSoon(second, name, name)
})

test('a fetch in flight when clearImageCache() runs is neither cached nor shown; after a new login it is', async ({ page }) => {
  const proxy = await startPassThroughProxy(h.backend.origin)
  try {
    const name = NAMES[0]
    const [record] = await h.freshRecords([name])
    await page.goto(`${h.site.origin}/test.html?backend=${proxy.port}`)
    await page.waitForFunction(() => window.px !== undefined && window.pxConfig !== undefined)
    await initFrontendLoggingErrors(page)
    await postRecords(page, [record!])
    const held = proxy.hold((path) => path.endsWith(`/${record!.id}`))
    await addImage(page, 'inflight', routeSrc(record!.id))
    await held.arrived
    await clearImageCache(page)
    held.release()

    expect(await imageSettled(page, 'inflight'), 'the image decrypted for a request from before the logout is not shown').toBe('error')
    expect(await imageErrors(page)).toEqual([{ id: record!.id, state: 'NoRecord', status: 404 }])
    expect(await cachedImageExists(page, record!.id), 'nor cached (memory or pending write)').toBe(false)
    expect(await cacheSnapshot(page), 'Cache Storage').toEqual([])

    await postRecords(page, await h.freshRecords([name]))
    await expectPictureSoon(page, 'inflight', name)
    await expect.poll(() => cachedImageExists(page, record!.id), { message: 'after a new login the image is cached as usual' }).toBe(true)
  } finally {
    await proxy.close()
  }
})
