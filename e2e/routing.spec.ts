/**
 * Which requests the worker sees: only image URLs. Everything else a
 * controlled page loads (its navigation, scripts, API calls) goes to the
 * network through the Static Routing API, without waiting for the worker.
 */
import { expect, test } from '@playwright/test'
import { expectPicture, openInitAndReload, postRecords, routeSrc, showImage } from './browser'
import { useHarness } from './harness'

const h = useHarness()

test('a controlled page: navigation, scripts and API calls bypass the worker; images still go through it', async ({ page }) => {
  await openInitAndReload(page, h)
  await page.evaluate(async (port) => (await fetch(`/api/records?backend=${port}&ids=none`)).json(), String(h.backend.port))
  const [record] = await h.freshRecords(['pixel-heart.gif'])
  await postRecords(page, [record!])
  expect((await showImage(page, 'routed', { src: routeSrc(record!.id) })).ok).toBe(true)
  await expectPicture(page, 'routed', 'pixel-heart.gif')

  // Resource Timing names the route that matched: 'network' for the bypass; '' (no rule) leaves it to the fetch handler.
  const sources = await page.evaluate(() =>
    [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((entry) => ({
      path: new URL(entry.name).pathname,
      source: (entry as PerformanceResourceTiming & { workerMatchedSourceType?: string }).workerMatchedSourceType,
    })),
  )
  const sourceOf = (predicate: (path: string) => boolean) => sources.filter((entry) => predicate(entry.path)).map((entry) => entry.source)
  expect(sourceOf((path) => path === '/test.html'), 'the navigation').toEqual(['network'])
  expect(sourceOf((path) => path.endsWith('.js')).length, 'scripts were loaded').toBeGreaterThan(0)
  expect(new Set(sourceOf((path) => path.endsWith('.js'))), 'scripts').toEqual(new Set(['network']))
  expect(sourceOf((path) => path.startsWith('/api/')), 'the API call').toEqual(['network'])
  // The picture above could only show decrypted, i.e. through the worker.
  expect(sourceOf((path) => path === routeSrc(record!.id)), 'the image').toEqual([''])
})
