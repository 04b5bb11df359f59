/**
 * Cache Storage: a reload is served without the backend, an update replaces
 * the cached picture, and a worker the browser stopped still serves new
 * images by asking the page for their records.
 */
import { expect, test } from '@playwright/test'
import {
  cachedImageExists,
  cacheSnapshot,
  entriesFor,
  expectPicture,
  initFrontend,
  openAndInit,
  openInitAndReload,
  postRecords,
  routeSrc,
  scanStorageForSecrets,
  showImage,
  stopServiceWorkers,
} from './browser'
import { FIXTURE_NAMES, fixturePath, useHarness, type FixtureName } from './harness'

const h = useHarness()

test('a reload shows every image from Cache Storage with zero backend requests', async ({ page }) => {
  await openAndInit(page, h)
  const records = await h.freshRecords(FIXTURE_NAMES)
  await postRecords(page, records)
  for (const [i, name] of FIXTURE_NAMES.entries()) {
    expect((await showImage(page, name, { src: routeSrc(records[i]!.id) })).ok, `${name} shows on the first visit`).toBe(true)
  }
  for (const record of records) {
    await expect.poll(() => cachedImageExists(page, record.id), { message: `${record.id} is cached` }).toBe(true)
  }
  // Answered first, stored afterwards: the write to Cache Storage may still be running.
  await expect.poll(async () => entriesFor(await cacheSnapshot(page), records[0]!.id).length, { message: 'Cache Storage holds an entry for the image' }).toBeGreaterThan(0)

  const backendBefore = h.backend.requests.length
  const siteBefore = h.site.requests.length
  await page.reload()
  await page.waitForFunction(() => window.px !== undefined)
  await initFrontend(page)
  // As on every page load, the page gets its records from the app's own API (the site, not the backend).
  const reply = await page.evaluate(
    async ({ port, ids }) => {
      const records = await (await fetch(`/api/records?backend=${port}&ids=${ids.join(',')}`)).json()
      return { count: records.length, result: await window.px.setImageRecords(records) }
    },
    { port: h.backend.port, ids: records.map((r) => r.id) },
  )
  expect(reply.count).toBe(records.length)
  for (const [i, name] of FIXTURE_NAMES.entries()) {
    expect((await showImage(page, name, { src: routeSrc(records[i]!.id) })).ok, `${name} shows after the reload`).toBe(true)
    await expectPicture(page, name, name)
  }
  expect(h.backend.requests.slice(backendBefore), 'requests that reached the backend after the reload').toEqual([])
  const imageRequestsToSite = h.site.requests.slice(siteBefore).filter((r) => r.path.startsWith('/pixstore-image/'))
  expect(imageRequestsToSite, 'image requests that reached the site server after the reload').toEqual([])
})

test('after updateImage and a new record, the new picture shows and the old cache entry is gone', async ({ page }) => {
  const before: FixtureName = 'sunset-gradient.png'
  const after: FixtureName = 'checkerboard-red-blue.png'
  const original = await h.backend.saveImageFromFile(fixturePath(before))
  const id = original.id
  h.recordsUsed.push(original)

  await openAndInit(page, h)
  await postRecords(page, [original])
  expect((await showImage(page, 'v1', { src: routeSrc(id) })).ok).toBe(true)
  await expectPicture(page, 'v1', before)
  await expect.poll(() => cachedImageExists(page, id), { message: 'version 1 cached' }).toBe(true)
  await expect.poll(async () => entriesFor(await cacheSnapshot(page), id).length, { message: 'version 1 written to Cache Storage' }).toBe(1)
  const oldEntries = entriesFor(await cacheSnapshot(page), id)
  expect(oldEntries.length, 'one Cache Storage entry for the image').toBe(1)
  const oldBody = oldEntries[0]!.body

  const updated = await h.backend.updateImageFromFile(id, fixturePath(after))
  h.recordsUsed.push(updated)
  expect(updated.id).toBe(id)
  expect(updated.token, 'updateImage gives a new token').not.toBe(original.token)
  expect(updated.meta.key, 'updateImage gives a new key').not.toBe(original.meta.key)

  // Next page load: the app hands over the new record, then shows the image.
  await page.reload()
  await page.waitForFunction(() => window.px !== undefined)
  await initFrontend(page)
  await postRecords(page, [updated])
  expect((await showImage(page, 'v2', { src: routeSrc(id) })).ok, 'the updated image shows').toBe(true)
  await expectPicture(page, 'v2', after)

  await expect.poll(() => cachedImageExists(page, id), { message: 'version 2 cached' }).toBe(true)
  await expect.poll(async () => entriesFor(await cacheSnapshot(page), id).some((entry) => entry.body !== oldBody), { message: 'version 2 written to Cache Storage' }).toBe(true)
  const all = await cacheSnapshot(page)
  const newEntries = entriesFor(all, id)
  expect(newEntries.length, 'exactly one Cache Storage entry for the image').toBe(1)
  expect(newEntries[0]!.body, 'the cached entry is not the old version').not.toBe(oldBody)
  expect(all.filter((entry) => entry.body === oldBody).map((entry) => entry.url), 'no cache entry holds the old version').toEqual([])
  const tokenHeaders = newEntries[0]!.headers.filter(([name]) => /token/i.test(name))
  for (const [name, value] of tokenHeaders) expect(value, `cached ${name} header`).toBe(String(updated.token))
  test.info().annotations.push({ type: 'cache entry headers', description: JSON.stringify(newEntries[0]!.headers) })
})

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
