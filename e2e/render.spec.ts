/**
 * Rendering, Chromium only: a CSS background-image on the route (checked
 * through Resource Timing). Formats, srcset, <picture> and first visits are
 * cross-engine scenarios (scenarios/render.scenario.ts).
 */
import { expect, test } from '@playwright/test'
import { cachedImageExists, openAndInit, postRecords, routeSrc } from './browser'
import { useHarness } from './harness'

const h = useHarness()

test('CSS background-image: url(/pixstore-image/ID) is served by the worker', async ({ page }) => {
  await openAndInit(page, h)
  const [record] = await h.freshRecords(['concentric-rings-lossless.webp'])
  await postRecords(page, [record!])
  const url = routeSrc(record!.id)
  expect(await cachedImageExists(page, record!.id)).toBe(false)
  const backendGetsBefore = h.backend.requestsFor(record!.id).filter((r) => r.method === 'GET').length
  const siteRequestsBefore = h.site.requests.filter((r) => r.path === url).length
  await page.evaluate((src) => {
    const div = document.createElement('div')
    div.id = 'bg'
    div.style.cssText = `width: 120px; height: 120px; background-image: url(${src})`
    document.getElementById('gallery')!.append(div)
  }, url)

  // The browser fetched it from the page origin, the worker answered it (200), fetched the backend and cached it.
  await expect
    .poll(
      () =>
        page.evaluate((src) => {
          const entry = performance.getEntriesByName(new URL(src, location.href).href)[0] as PerformanceResourceTiming | undefined
          return entry ? entry.responseStatus : null
        }, url),
      { message: 'ResourceTiming entry for the background image', timeout: 15_000 },
    )
    .toBe(200)
  await expect.poll(() => cachedImageExists(page, record!.id), { message: 'background image cached' }).toBe(true)
  expect(h.backend.requestsFor(record!.id).filter((r) => r.method === 'GET').length, 'the worker fetched it from the backend').toBeGreaterThan(backendGetsBefore)
  expect(h.site.requests.filter((r) => r.path === url).length, 'the site server never saw it').toBe(siteRequestsBefore)
})

test('imageUrl(record) is the absolute URL {page origin}{route}/{id}?v={token}, as the README says', async ({ page }) => {
  await openAndInit(page, h)
  const [record] = await h.freshRecords(['sunset-gradient.png'])
  expect(await page.evaluate((r) => window.px.imageUrl(r), record!)).toBe(`${h.site.origin}/pixstore-image/${record!.id}?v=${record!.token}`)
})
