/**
 * Rendering, in every engine: every format decrypts to the original pixels,
 * `srcset` and `<picture>` pick route URLs, and images already in the HTML on
 * a first visit (src, srcset only, `<picture>`) show without a reload.
 */
import { comparePixels, expectPicture, expectPictureSoon, openTestTab, postRecords, routeSrc, showImage, waitForApp } from '../browser'
import { expect, test } from '../engines'
import { FIXTURE_NAMES, FIXTURES, frontendConfigSource, useHarness, type FixtureName, type ImageRecord } from '../harness'

const h = useHarness()

const FORMATS: { format: string; fixtures: FixtureName[] }[] = [
  { format: 'PNG', fixtures: ['sunset-gradient.png', 'checkerboard-red-blue.png', 'target-transparent.png'] },
  { format: 'JPEG', fixtures: ['ocean-waves.jpg', 'pine-forest.jpg', 'radial-glow.jpg'] },
  { format: 'WebP', fixtures: ['lime-triangles.webp', 'concentric-rings-lossless.webp', 'color-tiles.webp'] },
  { format: 'GIF', fixtures: ['traffic-light.gif', 'pixel-heart.gif', 'rainbow-stripes.gif'] },
  { format: 'AVIF', fixtures: ['mountains.avif'] },
]

for (const { format, fixtures } of FORMATS) {
  test(`${format} images decrypt to exactly the original pixels`, async ({ session }) => {
    const tab = await openTestTab(session, h)
    const records = await h.freshRecords(fixtures)
    await postRecords(tab, records)
    for (const [i, name] of fixtures.entries()) {
      const shown = await showImage(tab, name, { src: routeSrc(records[i]!.id) })
      expect(shown.ok, `${name} fires load, not error`).toBe(true)
      await expectPicture(tab, name, name)
    }
    // Control: the comparison really tells pictures apart.
    const other = fixtures[0] === 'sunset-gradient.png' ? 'ocean-waves.jpg' : 'sunset-gradient.png'
    const control = await comparePixels(tab, `img[data-e2e="${fixtures[0]}"]`, other)
    expect(control.width !== control.expectedWidth || control.height !== control.expectedHeight || control.differingBytes > 0, 'a different picture does not compare equal').toBe(true)
  })
}

test('srcset pointing at the route shows the picture (x and w descriptors)', async ({ session }) => {
  const tab = await openTestTab(session, h)
  const [a, b, c] = await h.freshRecords(['pine-forest.jpg', 'pixel-heart.gif', 'lime-triangles.webp'])
  await postRecords(tab, [a!, b!, c!])
  const shown = await showImage(tab, 'srcset-1x', { srcset: `${routeSrc(a!.id)} 1x, ${routeSrc(b!.id)} 2x` })
  expect(shown.ok, 'srcset image fires load').toBe(true)
  expect(shown.naturalWidth).toBe(FIXTURES['pine-forest.jpg'].width)
  await expectPicture(tab, 'srcset-1x', 'pine-forest.jpg')

  const withWidths = await showImage(tab, 'srcset-w', { srcset: `${routeSrc(c!.id)} 144w`, sizes: '144px' })
  expect(withWidths.ok, 'srcset with a width descriptor fires load').toBe(true)
  await expectPicture(tab, 'srcset-w', 'lime-triangles.webp')
})

test('<picture>: the browser shows the matching <source> on the route', async ({ session }) => {
  const tab = await openTestTab(session, h)
  const [webp, png] = await h.freshRecords(['color-tiles.webp', 'sunset-gradient.png'])
  await postRecords(tab, [webp!, png!])
  await tab.evaluate(
    ({ webpSrc, pngSrc }) => {
      document.getElementById('gallery')!.innerHTML = `
        <picture>
          <source media="(max-width: 1px)" srcset="${pngSrc}?never">
          <source type="image/webp" srcset="${webpSrc}">
          <img data-e2e="picture" src="${pngSrc}">
        </picture>`
    },
    { webpSrc: routeSrc(webp!.id), pngSrc: routeSrc(png!.id) },
  )
  await expectPictureSoon(tab, 'picture', 'color-tiles.webp')
  expect(new URL(await tab.evaluate(() => document.querySelector<HTMLImageElement>('img[data-e2e="picture"]')!.currentSrc)).pathname, 'currentSrc is the <source>').toBe(routeSrc(webp!.id))
})

test('first visit: <img src>, <img srcset> and <picture> already in the HTML show without a reload', async ({ session }) => {
  const names: FixtureName[] = ['radial-glow.jpg', 'traffic-light.gif', 'color-tiles.webp', 'checkerboard-red-blue.png']
  // The application server embeds fresh records in the page it renders.
  h.site.pages.set('/first-visit.html', async () => {
    const records: ImageRecord[] = await h.freshRecords(names)
    const [src, srcset, pictureSource, pictureFallback] = records.map((record) => routeSrc(record.id))
    return `<!doctype html>
<html><head><meta charset="utf-8"><title>First visit</title></head>
<body>
<div id="gallery">
<img data-e2e="${names[0]}" src="${src}" alt="src">
<img data-e2e="${names[1]}" srcset="${srcset} 1x" alt="srcset only">
<picture><source srcset="${pictureSource}"><img data-e2e="${names[2]}" src="${pictureFallback}" alt="picture"></picture>
</div>
<script>
  window.controlledAtStart = navigator.serviceWorker.controller !== null
  sessionStorage.loads = String(Number(sessionStorage.loads ?? 0) + 1)
</script>
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

  const siteBefore = h.site.requests.length
  const tab = await session.open(`${h.site.origin}/first-visit.html`)
  expect(await tab.evaluate(() => (window as unknown as { controlledAtStart: boolean }).controlledAtStart), 'no worker controlled the page when the HTML was parsed').toBe(false)
  await waitForApp(tab)
  for (const name of names.slice(0, 3)) await expectPictureSoon(tab, name, name)

  // Before the worker controlled the page, the browser asked the site for them, which has no such route.
  const earlyImageRequests = h.site.requests.slice(siteBefore).filter((r) => r.path.startsWith('/pixstore-image/'))
  expect(earlyImageRequests.length, 'the <img> tags were requested from the site before the worker took over').toBeGreaterThan(0)
  for (const r of earlyImageRequests) expect(r.status, `site answer for ${r.path}`).toBe(404)
  expect(await tab.evaluate(() => [sessionStorage.loads, performance.getEntriesByType('navigation').length]), 'the page was never reloaded').toEqual(['1', 1])
})

test('a gallery of every fixture shows on screen (its screenshot is attached to the report)', async ({ session }, testInfo) => {
  const tab = await openTestTab(session, h)
  const records = await h.freshRecords(FIXTURE_NAMES)
  await postRecords(tab, records)
  await tab.evaluate(
    (items) => {
      document.body.style.cssText = 'margin: 8px; font: 12px sans-serif; background: #fff'
      document.getElementById('gallery')!.innerHTML = items
        .map(({ name, src }) => `<figure style="display: inline-block; margin: 4px; text-align: center"><img data-e2e="${name}" src="${src}"><figcaption>${name}</figcaption></figure>`)
        .join('')
    },
    FIXTURE_NAMES.map((name, i) => ({ name, src: routeSrc(records[i]!.id) })),
  )
  for (const name of FIXTURE_NAMES) await expectPictureSoon(tab, name, name)
  const png = await tab.screenshot(testInfo.outputPath(`gallery-${session.engine}.png`))
  expect(png.subarray(1, 4).toString('latin1'), 'a PNG').toBe('PNG')
  await testInfo.attach(`gallery (${session.engine})`, { body: png, contentType: 'image/png' })
})
