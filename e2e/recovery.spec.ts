/**
 * Images that failed while the backend was down come back once it answers
 * again, without a reload: the page module probes with one failed image
 * (bounded backoff, `online`) and then requests the others again.
 */
import { expect, test } from '@playwright/test'
import { addImage, expectPicture, imageErrors, imageSettled, imagesShown, initFrontendLoggingErrors, postRecords, routeSrc } from './browser'
import { fixturePath, startExtraBackend, useHarness, type FixtureName } from './harness'

const h = useHarness()

const NAMES: FixtureName[] = ['checkerboard-red-blue.png', 'radial-glow.jpg', 'color-tiles.webp']

test('backend stopped: added images fail (onImageError BackendUnreachable once each); backend started again on its port: they show without a reload', async ({ page }) => {
  const backend = await startExtraBackend()
  h.site.backends.set(backend.port, backend)
  try {
    const records = []
    for (const name of NAMES) records.push(await backend.saveImageFromFile(fixturePath(name)))
    await page.goto(`${h.site.origin}/test.html?backend=${backend.port}`)
    await page.waitForFunction(() => window.px !== undefined && window.pxConfig !== undefined)
    await initFrontendLoggingErrors(page)
    await postRecords(page, records)

    await backend.stopListening!()
    for (const [i, name] of NAMES.entries()) await addImage(page, name, routeSrc(records[i]!.id))
    for (const name of NAMES) expect(await imageSettled(page, name), `${name} fails while the backend is down`).toBe('error')
    await expect.poll(() => imageErrors(page), { message: 'onImageError for each' }).toHaveLength(NAMES.length)
    expect((await imageErrors(page)).map((event) => [event.state, event.status])).toEqual(NAMES.map(() => ['BackendUnreachable', 504]))
    const navigations = await page.evaluate(() => performance.getEntriesByType('navigation').length)

    await backend.listenAgain!()
    await expect.poll(() => imagesShown(page, NAMES), { message: 'every image shows once the backend is back', timeout: 30_000 }).toBe(NAMES.length)
    for (const name of NAMES) await expectPicture(page, name, name)
    expect(await page.evaluate(() => performance.getEntriesByType('navigation').length), 'no reload').toBe(navigations)
    expect(await imageErrors(page), 'each failure reported once, the retries while down were not').toHaveLength(NAMES.length)
    for (const record of records) expect(backend.requestsFor(record.id).filter((request) => request.status === 200).length, 'fetched once the backend was back').toBeGreaterThan(0)
  } finally {
    h.site.backends.delete(backend.port)
    await backend.close()
  }
})
