/**
 * Logging out in one tab logs out the whole browser, in every engine: after
 * clearImageCache() resolves, no tab hands a record back to the worker,
 * nothing decrypted is cached again (not even by a request that was in
 * flight), and a fresh tab shows none of the images until its app hands over
 * records of its own.
 */
import { startPassThroughProxy } from '../../testing/passThroughProxy'
import {
  addImage,
  cachedImageExists,
  cacheSnapshot,
  clearImageCache,
  expectPictureSoon,
  fetchFromPage,
  imageErrors,
  imageSettled,
  imagesShown,
  openTabLoggingErrors,
  postRecords,
  routeSrc,
} from '../browser'
import { expect, test, type Tab } from '../engines'
import { useHarness, type FixtureName } from '../harness'

const h = useHarness()

const NAMES = ['sunset-gradient.png', 'ocean-waves.jpg', 'lime-triangles.webp', 'pixel-heart.gif'] as const satisfies readonly FixtureName[]

test('logout in one tab: the other tab scrolls and gets NoRecord, a fresh tab shows nothing, nothing is cached; a new login works', async ({ session }) => {
  const [a, b, c, d] = NAMES
  const records = await h.freshRecords(NAMES)
  const id = (name: FixtureName) => records[(NAMES as readonly FixtureName[]).indexOf(name)]!.id
  const first = await openTabLoggingErrors(session, h.testPageUrl())
  const second = await openTabLoggingErrors(session, h.testPageUrl())
  for (const tab of [first, second]) await postRecords(tab, records)
  for (const name of [a, b]) await addImage(first, name, routeSrc(id(name)))
  await addImage(second, a, routeSrc(id(a)))
  for (const name of [a, b]) expect(await imageSettled(first, name), `${name} shows in the first tab`).toBe('load')
  expect(await imageSettled(second, a), 'the second tab shows its image').toBe('load')
  await expect.poll(() => cachedImageExists(first, id(a)), { message: 'the image is cached before logging out' }).toBe(true)

  expect(await clearImageCache(first), 'clearImageCache reports the cached images it removed').toEqual(expect.any(Number))

  // The second tab's app was not told: it adds images (it scrolls) and asks for one it showed before.
  for (const name of [c, d]) await addImage(second, name, routeSrc(id(name)))
  for (const name of [c, d]) expect(await imageSettled(second, name), `${name} in the other tab fails after the logout`).toBe('error')
  expect(await imagesShown(second, [c, d])).toBe(0)
  const again = await fetchFromPage(second, routeSrc(id(a)))
  expect({ status: again.status, state: again.state }, 'an image the other tab showed before is gone too').toEqual({ status: 404, state: 'NoRecord' })
  // The worker reports a failure to the page after it answered the <img>: wait for the report.
  const failedIn = async (tab: Tab, ids: string[]) => (await imageErrors(tab)).filter((event) => ids.includes(event.id))
  const noRecord = (ids: string[]) => ids.map((imageId) => ({ id: imageId, state: 'NoRecord', status: 404 }))
  const byId = (events: { id: string }[]) => [...events].sort((x, y) => x.id.localeCompare(y.id))
  await expect.poll(async () => byId(await failedIn(second, [id(c), id(d)])), { message: 'onImageError in the other tab: NoRecord for each' }).toEqual(byId(noRecord([id(c), id(d)])))
  expect(await cacheSnapshot(second), 'Cache Storage after the other tab scrolled').toEqual([])

  // The next user opens a tab: no record anywhere, nothing cached.
  const fresh = await openTabLoggingErrors(session, h.testPageUrl())
  for (const name of NAMES) await addImage(fresh, name, routeSrc(id(name)))
  for (const name of NAMES) expect(await imageSettled(fresh, name), `${name} in a fresh tab`).toBe('error')
  expect(await imagesShown(fresh, NAMES), 'images shown in the fresh tab').toBe(0)
  await expect.poll(async () => byId(await imageErrors(fresh)), { message: 'the fresh tab: onImageError NoRecord for every image' }).toEqual(byId(noRecord(NAMES.map(id))))
  expect(await cacheSnapshot(fresh), 'Cache Storage after the fresh tab').toEqual([])
  for (const name of NAMES) expect(await cachedImageExists(fresh, id(name)), `${name} not cached`).toBe(false)

  // A new login in the other tab: its app hands over records again, and the images that failed show.
  await postRecords(second, await h.freshRecords(NAMES))
  for (const name of [c, d]) await expectPictureSoon(second, name, name)
})

test('a fetch in flight when clearImageCache() runs is neither cached nor shown; after a new login it is', async ({ session }) => {
  const proxy = await startPassThroughProxy(h.backend.origin)
  try {
    const name = NAMES[0]
    const [record] = await h.freshRecords([name])
    const tab = await openTabLoggingErrors(session, `${h.site.origin}/test.html?backend=${proxy.port}`)
    await postRecords(tab, [record!])
    const held = proxy.hold((path) => path.endsWith(`/${record!.id}`))
    await addImage(tab, 'inflight', routeSrc(record!.id))
    await held.arrived
    await clearImageCache(tab)
    held.release()

    expect(await imageSettled(tab, 'inflight'), 'the image decrypted for a request from before the logout is not shown').toBe('error')
    await expect.poll(() => imageErrors(tab), { message: 'onImageError: NoRecord' }).toEqual([{ id: record!.id, state: 'NoRecord', status: 404 }])
    expect(await cachedImageExists(tab, record!.id), 'nor cached (memory or pending write)').toBe(false)
    expect(await cacheSnapshot(tab), 'Cache Storage').toEqual([])

    await postRecords(tab, await h.freshRecords([name]))
    await expectPictureSoon(tab, 'inflight', name)
    await expect.poll(() => cachedImageExists(tab, record!.id), { message: 'after a new login the image is cached as usual' }).toBe(true)
  } finally {
    await proxy.close()
  }
})
