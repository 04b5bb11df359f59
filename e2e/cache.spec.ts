/**
 * Chromium only (workers stopped through CDP): a worker the browser stopped
 * still serves new images by asking the page for their records, and cached
 * ones from Cache Storage. A reload from Cache Storage and an update of a
 * cached image are cross-engine scenarios (scenarios/cache.scenario.ts).
 */
import { expect, test } from '@playwright/test'
import {
  cacheSnapshot,
  entriesFor,
  expectPicture,
  openAndInit,
  openInitAndReload,
  postRecords,
  routeSrc,
  scanStorageForSecrets,
  showImage,
  stopServiceWorkers,
} from './browser'
import { useHarness, type FixtureName } from './harness'

const h = useHarness()

test('a stopped worker serves new images by asking the page for their records', async ({ page }) => {
  const shownFirst: FixtureName[] = ['sunset-gradient.png', 'ocean-waves.jpg']
  const shownAfterStop: FixtureName[] = ['pine-forest.jpg', 'color-tiles.webp', 'pixel-heart.gif', 'target-transparent.png']
  await openAndInit(page, h)
  const records = await h.freshRecords([...shownFirst, ...shownAfterStop])
  await postRecords(page, records)
  for (const [i, name] of shownFirst.entries()) {
    expect((await showImage(page, name, { src: routeSrc(records[i]!.id) })).ok).toBe(true)
  }

  const { statuses } = await stopServiceWorkers(page)
  const backendBefore = h.backend.requests.length

  for (const [i, name] of shownAfterStop.entries()) {
    const record = records[shownFirst.length + i]!
    expect((await showImage(page, name, { src: routeSrc(record.id) })).ok, `${name} shows after the worker was stopped`).toBe(true)
    await expectPicture(page, name, name)
  }
  // The worker really was restarted for these requests, with only the page to ask for records.
  expect([...statuses.values()].some((history) => history.lastIndexOf('running') > history.indexOf('stopped')), `worker restarted (CDP statuses: ${JSON.stringify([...statuses])})`).toBe(true)
  const fetched = h.backend.requests.slice(backendBefore).filter((r) => r.method === 'GET').map((r) => r.path)
  for (const record of records.slice(shownFirst.length)) expect(fetched, 'the restarted worker fetched it from the backend').toContain(routeSrc(record.id))

  const scan = await scanStorageForSecrets(page, records)
  expect(scan.hits, 'keys or proofs stored in the browser').toEqual([])
})

test('a worker the browser stopped shows cached images from Cache Storage, without the backend', async ({ page }) => {
  await openAndInit(page, h)
  const names: FixtureName[] = ['lime-triangles.webp', 'pixel-heart.gif']
  const records = await h.freshRecords(names)
  await postRecords(page, records)
  for (const [i, name] of names.entries()) expect((await showImage(page, name, { src: routeSrc(records[i]!.id) })).ok).toBe(true)
  await expect
    .poll(
      async () => {
        const snapshot = await cacheSnapshot(page)
        return records.every((record) => entriesFor(snapshot, record.id).length > 0)
      },
      { message: 'both images are in Cache Storage' },
    )
    .toBe(true)

  // Restarted with empty memory: it learns what Cache Storage holds, and answers from there.
  await stopServiceWorkers(page)
  const backendBefore = h.backend.requests.length
  for (const [i, name] of names.entries()) {
    // Another URL for the same image, or the browser would reuse the <img> it decoded before.
    expect((await showImage(page, `${name}-again`, { src: `${routeSrc(records[i]!.id)}?again` })).ok, `${name} shows after the restart`).toBe(true)
    await expectPicture(page, `${name}-again`, name)
  }
  expect(h.backend.requests.slice(backendBefore), 'requests that reached the backend').toEqual([])
})

test('after a reload (the worker already in control), a stopped worker still gets its records from the page', async ({ page }) => {
  await openInitAndReload(page, h)
  const [record] = await h.freshRecords(['color-tiles.webp'])
  await postRecords(page, [record!])

  // The records are only in the page now: the worker must ask for it, and the page must know it is its own worker.
  await stopServiceWorkers(page)
  expect((await showImage(page, 'after-reload', { src: routeSrc(record!.id) })).ok).toBe(true)
  await expectPicture(page, 'after-reload', 'color-tiles.webp')
})
