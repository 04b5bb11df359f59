/**
 * Rendering: every format decrypts to the original pixels, images already in
 * the HTML on a first visit show without a reload, and srcset / CSS
 * background-image on the route work too.
 */
import { expect, test } from '@playwright/test'
import {
  cachedImageExists,
  comparePixels,
  expectPicture,
  openAndInit,
  postRecords,
  routeSrc,
  showImage,
} from './browser'
import { FIXTURES, frontendConfigSource, useHarness, type FixtureName, type ImageRecord } from './harness'

const h = useHarness()

const FORMATS: { format: string; fixtures: FixtureName[] }[] = [
  { format: 'PNG', fixtures: ['sunset-gradient.png', 'checkerboard-red-blue.png', 'target-transparent.png'] },
  { format: 'JPEG', fixtures: ['ocean-waves.jpg', 'pine-forest.jpg', 'radial-glow.jpg'] },
  { format: 'WebP', fixtures: ['lime-triangles.webp', 'concentric-rings-lossless.webp', 'color-tiles.webp'] },
  { format: 'GIF', fixtures: ['traffic-light.gif', 'pixel-heart.gif', 'rainbow-stripes.gif'] },
  { format: 'AVIF', fixtures: ['mountains.avif'] },
]

for (const { format, fixtures } of FORMATS) {
  test(`${format} images decrypt to exactly the original pixels`, async ({ page }) => {
    await openAndInit(page, h)
    const records = await h.freshRecords(fixtures)
    await postRecords(page, records)
    for (const [i, name] of fixtures.entries()) {
      const shown = await showImage(page, name, { src: routeSrc(records[i]!.id) })
      expect(shown.ok, `${name} fires load, not error`).toBe(true)
      await expectPicture(page, name, name)
    }
    // Control: the comparison really tells pictures apart.
    const other = fixtures[0] === 'sunset-gradient.png' ? 'ocean-waves.jpg' : 'sunset-gradient.png'
    const control = await comparePixels(page, `img[data-e2e="${fixtures[0]}"]`, other)
    expect(control.width !== control.expectedWidth || control.height !== control.expectedHeight || control.differingBytes > 0, 'a different picture does not compare equal').toBe(true)
  })
}

test('first visit: <img> tags already in the HTML show without a reload', async ({ page }) => {
  const names: FixtureName[] = ['radial-glow.jpg', 'traffic-light.gif', 'color-tiles.webp', 'checkerboard-red-blue.png']
  // The application server embeds fresh records in the page it renders.
  h.site.pages.set('/first-visit.html', async () => {
    const records: ImageRecord[] = await h.freshRecords(names)
    const imgs = names.map((name, i) => `<img data-e2e="${name}" src="${routeSrc(records[i]!.id)}" alt="${name}">`).join('\n')
    return `<!doctype html>
<html><head><meta charset="utf-8"><title>First visit</title></head>
<body>
<div id="gallery">
${imgs}
</div>
<script>window.controlledAtStart = navigator.serviceWorker.controller !== null</script>
<script type="application/json" id="pixstore-records">${JSON.stringify(records)}</script>
<script type="module">
  import { initPixstoreFrontend, setImageRecords } from '/pixstore/frontend.js'
  const records = JSON.parse(document.getElementById('pixstore-records').textContent)
  try {
    await initPixstoreFrontend(${frontendConfigSource(String(h.backend.port))})
    await setImageRecords(records)
    window.pixstoreReady = true
  } catch (error) {
    window.pixstoreError = String(error && error.stack || error)
  }
</script>
</body></html>`
  })

  let loads = 0
  page.on('load', () => loads++)
  const siteBefore = h.site.requests.length
  await page.goto(`${h.site.origin}/first-visit.html`)
  expect(await page.evaluate(() => (window as unknown as { controlledAtStart: boolean }).controlledAtStart), 'no worker controlled the page when the HTML was parsed').toBe(false)
  await page.waitForFunction(() => {
    const w = window as unknown as { pixstoreReady?: boolean; pixstoreError?: string }
    return w.pixstoreReady || w.pixstoreError
  })
  expect(await page.evaluate(() => (window as unknown as { pixstoreError?: string }).pixstoreError)).toBeUndefined()

  for (const name of names) {
    await expect
      .poll(() => page.evaluate((n) => document.querySelector<HTMLImageElement>(`img[data-e2e="${n}"]`)!.naturalWidth, name), {
        message: `${name} from the initial HTML gets decoded`,
        timeout: 15_000,
      })
      .toBe(FIXTURES[name].width)
    await expectPicture(page, name, name)
  }
  // Before the worker controlled the page, the browser asked the site for them, which has no such route.
  const earlyImageRequests = h.site.requests.slice(siteBefore).filter((r) => r.path.startsWith('/pixstore-image/'))
  expect(earlyImageRequests.length, 'the <img> tags were requested from the site before the worker took over').toBeGreaterThan(0)
  for (const r of earlyImageRequests) expect(r.status, `site answer for ${r.path}`).toBe(404)
  expect(loads, 'the page was never reloaded').toBe(1)
  expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1)
})

test('srcset pointing at the route shows the picture', async ({ page }) => {
  await openAndInit(page, h)
  const [a, b] = await h.freshRecords(['pine-forest.jpg', 'pixel-heart.gif'])
  await postRecords(page, [a!, b!])
  const shown = await showImage(page, 'srcset-1x', { srcset: `${routeSrc(a!.id)} 1x, ${routeSrc(b!.id)} 2x` })
  expect(shown.ok, 'srcset image fires load').toBe(true)
  expect(shown.naturalWidth).toBe(FIXTURES['pine-forest.jpg'].width)
  await expectPicture(page, 'srcset-1x', 'pine-forest.jpg')

  const [c] = await h.freshRecords(['lime-triangles.webp'])
  await postRecords(page, [c!])
  const withWidths = await showImage(page, 'srcset-w', { srcset: `${routeSrc(c!.id)} 144w`, sizes: '144px' })
  expect(withWidths.ok, 'srcset with a width descriptor fires load').toBe(true)
  await expectPicture(page, 'srcset-w', 'lime-triangles.webp')
})

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
