/**
 * What the engine drivers promise the other scenarios, checked in each
 * engine: tabs of one session share the origin's worker (as two tabs of one
 * user), and every session starts with a fresh profile (no worker, no cache).
 */
import { cachedImageIds, expectPicture, openTestTab, postRecords, routeSrc, showImage } from '../browser'
import { expect, test } from '../engines'
import { useHarness } from '../harness'

const h = useHarness()

test('two tabs of one session share the worker: an image whose record one tab handed over shows in the other', async ({ session }) => {
  const first = await openTestTab(session, h)
  const second = await openTestTab(session, h)
  const [record] = await h.freshRecords(['traffic-light.gif'])
  await postRecords(first, [record!])
  expect((await showImage(second, 'shared', { src: routeSrc(record!.id) })).ok, 'the second tab shows it with no record of its own').toBe(true)
  await expectPicture(second, 'shared', 'traffic-light.gif')
  // The first tab is still usable after the second was used.
  expect((await showImage(first, 'first', { src: `${routeSrc(record!.id)}?first` })).ok).toBe(true)
  expect(session.tabs.length).toBe(2)
})

test('a new session starts with a fresh profile: no worker, no cached image of the session before', async ({ session, launcher }) => {
  const tab = await openTestTab(session, h)
  const [record] = await h.freshRecords(['pixel-heart.gif'])
  await postRecords(tab, [record!])
  expect((await showImage(tab, 'cached', { src: routeSrc(record!.id) })).ok).toBe(true)
  await expect.poll(() => cachedImageIds(tab), { message: 'the image reached Cache Storage' }).toEqual([record!.id])

  const next = await launcher.newSession()
  try {
    const fresh = await next.open(h.testPageUrl())
    expect(await fresh.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length), 'service worker registrations').toBe(0)
    expect(await fresh.evaluate(() => caches.keys()), 'Cache Storage caches').toEqual([])
  } finally {
    await next.close()
  }
})
