/**
 * Page and backend on different origins (two ports): the worker's requests to
 * the backend are real cross-origin requests, answered with CORS headers.
 */
import { expect, test } from '@playwright/test'
import { cachedImageExists, comparePixels, expectPicture, fetchFromPage, openAndInit, postRecords, routeSrc, showImage } from './browser'
import { FIXTURES, fixturePath, startExtraBackend, useHarness } from './harness'

const h = useHarness()

test('cross-origin backend: responses carry Access-Control-Allow-Origin and the image shows', async ({ page }) => {
  expect(new URL(h.site.origin).origin, 'site and backend are different origins').not.toBe(h.backend.origin)
  await openAndInit(page, h)
  const [record] = await h.freshRecords(['color-tiles.webp'])
  await postRecords(page, [record!])
  const before = h.backend.requests.length
  expect((await showImage(page, 'tiles', { src: routeSrc(record!.id) })).ok).toBe(true)
  await expectPicture(page, 'tiles', 'color-tiles.webp')

  const requests = h.backend.requests.slice(before).filter((r) => r.path === routeSrc(record!.id))
  const gets = requests.filter((r) => r.method === 'GET')
  expect(gets.length, 'the worker fetched the image from the backend').toBeGreaterThan(0)
  for (const r of requests) {
    expect(r.origin, `${r.method} ${r.path}: Origin header (a cross-origin request from the site)`).toBe(h.site.origin)
    expect(r.allowOrigin, `${r.method} ${r.path}: Access-Control-Allow-Origin`).toBe('*')
    expect(r.status, `${r.method} ${r.path}: HTTP status`).toBeLessThan(300)
  }
  test.info().annotations.push({ type: 'backend requests', description: JSON.stringify(requests) })
})

test('cross-origin backend: no CORS preflight for images, the proof rides in the query, no Referer', async ({ page }) => {
  await openAndInit(page, h)
  const records = await h.freshRecords(['color-tiles.webp', 'pixel-heart.gif', 'ocean-waves.jpg'])
  await postRecords(page, records)
  const before = h.backend.requests.length
  for (const [i, record] of records.entries()) expect((await showImage(page, `np${i}`, { src: routeSrc(record.id) })).ok).toBe(true)
  const requests = h.backend.requests.slice(before)
  expect(requests.filter((r) => r.method === 'OPTIONS').map((r) => r.path), 'OPTIONS requests').toEqual([])
  const gets = requests.filter((r) => r.method === 'GET')
  expect(gets.length, 'one GET per image').toBe(records.length)
  for (const r of gets) {
    expect(r.proofIn, `${r.path}: proof as a query parameter (a custom header would need a preflight)`).toBe('query')
    expect(r.referer, `${r.path}: Referer`).toBeUndefined()
  }
})

test('an absolute URL on the backend origin is decrypted by the worker too', async ({ page }) => {
  await openAndInit(page, h)
  const [record] = await h.freshRecords(['pixel-heart.gif'])
  await postRecords(page, [record!])
  const shown = await showImage(page, 'absolute', { src: `${h.backend.origin}${routeSrc(record!.id)}` })
  expect(shown.ok, 'absolute backend URL shows').toBe(true)
  expect(shown.naturalWidth).toBe(FIXTURES['pixel-heart.gif'].width)
  const pixels = await comparePixels(page, 'img[data-e2e="absolute"]', 'pixel-heart.gif')
  if (pixels.error) {
    // A canvas tainted by a cross-origin <img> cannot be read; record it, the size check above still holds.
    test.info().annotations.push({ type: 'pixel read', description: pixels.error })
  } else {
    expect(pixels.differingBytes, 'RGBA bytes differing from the original').toBe(0)
  }
})

test('a backend that allows only the site origin echoes it; one that allows another origin is blocked', async ({ page, context }) => {
  const allowSite = await startExtraBackend({ accessControlAllowOrigin: [h.site.origin] })
  const allowOther = await startExtraBackend({ accessControlAllowOrigin: ['http://elsewhere.example'] })
  try {
    const okRecord = await allowSite.saveImageFromFile(fixturePath('ocean-waves.jpg'))
    await openAndInit(page, h, allowSite)
    await postRecords(page, [okRecord])
    expect((await showImage(page, 'allowed', { src: routeSrc(okRecord.id) })).ok, 'allowed origin: image shows').toBe(true)
    await expectPicture(page, 'allowed', 'ocean-waves.jpg')
    const okRequests = allowSite.requestsFor(okRecord.id)
    expect(okRequests.length).toBeGreaterThan(0)
    for (const r of okRequests) expect(r.allowOrigin, `${r.method}: echoed origin`).toBe(h.site.origin)

    // A new context: a fresh worker configured for the other backend.
    const other = await context.browser()!.newContext()
    try {
      const otherPage = await other.newPage()
      const blockedRecord = await allowOther.saveImageFromFile(fixturePath('ocean-waves.jpg'))
      await openAndInit(otherPage, h, allowOther)
      await postRecords(otherPage, [blockedRecord])
      expect((await showImage(otherPage, 'blocked', { src: routeSrc(blockedRecord.id) })).ok, 'origin not allowed: the <img> fires error').toBe(false)
      const reached = allowOther.requestsFor(blockedRecord.id)
      expect(reached.length, 'the request did reach the backend').toBeGreaterThan(0)
      for (const r of reached) expect(r.allowOrigin, 'no Access-Control-Allow-Origin for a foreign origin').toBeUndefined()
      const answer = await fetchFromPage(otherPage, routeSrc(blockedRecord.id))
      expect(answer.status, 'blocked by CORS: the worker says so (the backend did answer)').toBe(502)
      expect(answer.state).toBe('CorsRefused')
      expect(await cachedImageExists(otherPage, blockedRecord.id), 'nothing cached').toBe(false)
    } finally {
      await other.close()
    }
  } finally {
    await allowSite.close()
    await allowOther.close()
  }
})
