/**
 * Images that failed while the backend was down come back once it answers
 * again, without a reload, in every engine: the page module probes with one
 * failed image (bounded backoff, `online`) and then requests the others again.
 */
import { addImage, expectPicture, imageErrors, imageSettled, imagesShown, openTabLoggingErrors, postRecords, routeSrc } from '../browser'
import { RECOVERY_DELAYS_MS } from '../../page/recovery'
import { expect, test } from '../engines'
import { fixturePath, startExtraBackend, useHarness, type FixtureName } from '../harness'

const h = useHarness()

const NAMES: FixtureName[] = ['checkerboard-red-blue.png', 'radial-glow.jpg', 'color-tiles.webp']

test('backend stopped: added images fail (onImageError BackendUnreachable once each); backend started again on its port: they show without a reload', async ({ session }) => {
  test.setTimeout(RECOVERY_DELAYS_MS.longest + 60_000)
  const backend = await startExtraBackend()
  h.site.backends.set(backend.port, backend)
  try {
    const records = []
    for (const name of NAMES) records.push(await backend.saveImageFromFile(fixturePath(name)))
    const tab = await openTabLoggingErrors(session, h.testPageUrl(backend))
    await postRecords(tab, records)

    await backend.stopListening!()
    for (const [i, name] of NAMES.entries()) await addImage(tab, name, routeSrc(records[i]!.id))
    for (const name of NAMES) expect(await imageSettled(tab, name), `${name} fails while the backend is down`).toBe('error')
    await expect.poll(() => imageErrors(tab), { message: 'onImageError for each' }).toHaveLength(NAMES.length)
    expect((await imageErrors(tab)).map((event) => [event.state, event.status])).toEqual(NAMES.map(() => ['BackendUnreachable', 504]))
    // A mark in this document: a reload would start a new one without it.
    await tab.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true))

    await backend.listenAgain!()
    // The next probe comes within the longest backoff, however long the outage lasted on a loaded machine.
    await expect.poll(() => imagesShown(tab, NAMES), { message: 'every image shows once the backend is back', timeout: RECOVERY_DELAYS_MS.longest + 15_000 }).toBe(NAMES.length)
    for (const name of NAMES) await expectPicture(tab, name, name)
    expect(await tab.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), 'no reload: the same document').toBe(true)
    expect(await imageErrors(tab), 'each failure reported once, the retries while down were not').toHaveLength(NAMES.length)
    for (const record of records) expect(backend.requestsFor(record.id).filter((request) => request.status === 200).length, 'fetched once the backend was back').toBeGreaterThan(0)
  } finally {
    h.site.backends.delete(backend.port)
    await backend.close()
  }
})
