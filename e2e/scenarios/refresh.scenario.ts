/**
 * Pages that live longer than a proof window, images that change on the
 * server, and records that arrive late, in every engine: plain <img> tags
 * keep working with no app code beyond the refreshRecords callback.
 */
import { expectPicture, expectPictureSoon, openTestTab, postRecords, routeSrc, showImage, waitForApp } from '../browser'
import { expect, test, type BrowserSession, type Tab } from '../engines'
import { appPage, FIXTURE_NAMES, FIXTURES, fixturePath, startExtraBackend, useHarness, type FixtureName, type TestBackend } from '../harness'

const h = useHarness()

const WINDOW_MS = 2000
/** Proofs are valid in their window and the next one: after this, every proof handed out before has expired. */
const PAST_TWO_WINDOWS_MS = 2 * WINDOW_MS + 500

/** A backend with a 2 s proof window for one test, known to the site's /api/records. */
async function withShortWindow(run: (backend: TestBackend) => Promise<void>): Promise<void> {
  const short = await startExtraBackend({ statelessKeyWindowLength: WINDOW_MS })
  h.site.backends.set(short.port, short)
  try {
    await run(short)
  } finally {
    h.site.backends.delete(short.port)
    await short.close()
  }
}

const naturalWidths = (tab: Tab) => tab.evaluate(() => [...document.images].map((img) => img.naturalWidth))

/**
 * The app: records from its API, then `<img src=imageUrl(record)>`; the first
 * `visible` images at the top, the rest `loading="lazy"` below a tall spacer.
 */
const galleryScript = (ids: string[], names: string[], visible: number, withRefresh: boolean) => `
    await px.initPixstoreFrontend({ ...config, ${withRefresh ? 'refreshRecords, ' : ''}onImageError })
    const records = await api(${JSON.stringify(ids)})
    await px.setImageRecords(records)
    const names = ${JSON.stringify(names)}
    records.forEach((record, i) => {
      const img = document.createElement('img')
      img.dataset.e2e = 'img-' + i
      img.alt = names[i]
      if (i >= ${visible}) img.loading = 'lazy'
      img.addEventListener('load', () => (img.dataset.result = 'load'))
      img.addEventListener('error', () => (img.dataset.result = 'error'))
      img.src = px.imageUrl(record)
      document.getElementById(i < ${visible} ? 'top' : 'below').append(img)
    })
    window.pixstoreReady = true`

const GALLERY_BODY = '<div id="top"></div><div style="height: 8000px"></div><div id="below"></div>'

/** Stores `names` on `short` and opens the gallery app of them at `path` (see galleryScript); resolves once its script ran. */
async function openGallery(session: BrowserSession, short: TestBackend, path: string, names: FixtureName[], visible: number, withRefresh: boolean): Promise<{ tab: Tab; ids: string[] }> {
  const ids: string[] = []
  for (const name of names) ids.push((await short.saveImageFromFile(fixturePath(name))).id)
  h.site.pages.set(path, appPage(short.port, GALLERY_BODY, galleryScript(ids, names, visible, withRefresh)))
  const tab = await session.open(`${h.site.origin}${path}`)
  await waitForApp(tab)
  return { tab, ids }
}

/** Waits until every proof the page holds has expired (the subject is time itself), then scrolls to the lazy images. */
async function scrollPastTwoWindows(tab: Tab): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, PAST_TWO_WINDOWS_MS))
  await tab.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
}

/** Waits until every gallery image shows, then checks each one's pixels. */
async function expectGalleryShown(tab: Tab, names: FixtureName[]): Promise<void> {
  await expect.poll(async () => (await naturalWidths(tab)).every((w) => w > 0), { message: `all ${names.length} images show`, timeout: 20_000 }).toBe(true)
  for (const [i, name] of names.entries()) await expectPicture(tab, `img-${i}`, name)
}

test('lazy images scrolled to after every proof expired: all 20 show, refreshRecords got batched ids', async ({ session }) => {
  await withShortWindow(async (short) => {
    const names: FixtureName[] = [...FIXTURE_NAMES, ...FIXTURE_NAMES].slice(0, 20)
    const { tab, ids } = await openGallery(session, short, '/lazy.html', names, 10, true)
    await expect.poll(async () => (await naturalWidths(tab)).slice(0, 10).every((w) => w > 0), { message: 'the 10 visible images show' }).toBe(true)
    expect((await naturalWidths(tab)).slice(10), 'the lazy images have not loaded yet').toEqual(Array(10).fill(0))
    for (const id of ids.slice(10)) expect(short.requestsFor(id), 'no request for a lazy image before scrolling').toEqual([])
    expect(await tab.evaluate(() => window.refreshCalls), 'no refresh while proofs are valid').toEqual([])

    await scrollPastTwoWindows(tab)
    await expectGalleryShown(tab, names)

    const calls = await tab.evaluate(() => window.refreshCalls)
    expect(new Set(calls.flat()), 'refreshRecords was asked for exactly the lazy images').toEqual(new Set(ids.slice(10)))
    expect(calls.flat().length, 'each id asked once').toBe(10)
    expect(calls.length, `ids came in batches (calls: ${JSON.stringify(calls.map((c) => c.length))})`).toBeLessThan(10)
    expect(Math.max(...calls.map((c) => c.length)), 'at least one call carried several ids').toBeGreaterThan(1)
    expect(await tab.evaluate(() => window.imageErrors), 'no image failed').toEqual([])
  })
})

test('a tab past two proof windows scrolls 20 lazy photos: 20 endpoint requests (proofs refreshed before they are refused), all show', async ({ session }) => {
  await withShortWindow(async (short) => {
    const names: FixtureName[] = [...FIXTURE_NAMES, ...FIXTURE_NAMES].slice(0, 20)
    const { tab, ids } = await openGallery(session, short, '/stale-tab.html', names, 0, true)
    expect(await naturalWidths(tab), 'all 20 are lazy, none loaded yet').toEqual(Array(20).fill(0))
    for (const id of ids) expect(short.requestsFor(id), 'no request before scrolling').toEqual([])
    await scrollPastTwoWindows(tab)
    await expectGalleryShown(tab, names)

    const gets = ids.flatMap((id) => short.requestsFor(id).filter((request) => request.method === 'GET'))
    console.log(`${session.engine}: stale tab, 20 lazy photos: ${gets.length} endpoint requests`)
    expect(gets.length, 'one endpoint request per photo').toBe(20)
    expect(gets.map((request) => request.status), 'every one answered 200').toEqual(Array(20).fill(200))
    const calls = await tab.evaluate(() => window.refreshCalls)
    expect(calls.flat().sort(), 'refreshRecords asked for each photo once').toEqual([...ids].sort())
    expect(calls.length, `in batches (calls: ${JSON.stringify(calls.map((c) => c.length))})`).toBeLessThan(20)
    expect(await tab.evaluate(() => window.imageErrors), 'no image failed').toEqual([])
  })
})

test('without refreshRecords an expired lazy image fires error and onImageError gets InvalidProof, 403', async ({ session }) => {
  await withShortWindow(async (short) => {
    const names: FixtureName[] = ['pixel-heart.gif', 'ocean-waves.jpg']
    const { tab, ids } = await openGallery(session, short, '/lazy-no-refresh.html', names, 1, false)
    await expect.poll(async () => (await naturalWidths(tab))[0], { message: 'the visible image shows' }).toBe(FIXTURES['pixel-heart.gif'].width)
    await scrollPastTwoWindows(tab)
    await expect.poll(() => tab.evaluate(() => document.querySelector<HTMLImageElement>('img[data-e2e="img-1"]')!.dataset.result), { message: 'the lazy image settles' }).toBe('error')
    expect(short.requestsFor(ids[1]!).length, 'the worker did ask the backend').toBeGreaterThan(0)
    await expect.poll(() => tab.evaluate(() => window.imageErrors), { message: 'onImageError' }).toEqual([{ id: ids[1], state: 'InvalidProof', status: 403 }])
  })
})

test('a refreshRecords that throws or leaves the id out: the image gets its normal error answer, no hang', async ({ session }) => {
  const [broken, missing] = [h.saved['traffic-light.gif'].id, h.saved['color-tiles.webp'].id]
  h.site.pages.set(
    '/failing-refresh.html',
    appPage(
      h.backend.port,
      '<div id="gallery"></div>',
      `
    await px.initPixstoreFrontend({
      ...config,
      onImageError,
      refreshRecords: async (ids) => {
        window.refreshCalls.push(ids)
        if (ids.includes(${JSON.stringify(broken)})) throw new Error('API down')
        return []
      },
    })
    window.pixstoreReady = true`,
    ),
  )
  const tab = await session.open(`${h.site.origin}/failing-refresh.html`)
  await waitForApp(tab)
  // No setImageRecords: only refreshRecords could bring the records.
  for (const [name, id] of [['broken', broken], ['missing', missing]] as const) {
    expect((await showImage(tab, name, { src: routeSrc(id) })).ok, `${name}: the <img> fires error`).toBe(false)
  }
  expect(new Set((await tab.evaluate(() => window.refreshCalls)).flat())).toEqual(new Set([broken, missing]))
  const errors = await tab.evaluate(() => window.imageErrors)
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)
  expect(errors.sort(byId), 'onImageError, once per failed image').toEqual([broken, missing].map((id) => ({ id, state: 'NoRecord', status: 404 })).sort(byId))
})

test('updateImage on the server, then setImageRecords: every <img> of it on screen shows the new picture', async ({ session }) => {
  const before: FixtureName = 'sunset-gradient.png'
  const after: FixtureName = 'rainbow-stripes.gif'
  const original = await h.backend.saveImageFromFile(fixturePath(before))
  const other = await h.backend.saveImageFromFile(fixturePath('pine-forest.jpg'))
  h.recordsUsed.push(original, other)
  const tab = await openTestTab(session, h)
  await postRecords(tab, [original, other])
  const plain = routeSrc(original.id)
  await tab.evaluate(
    ({ plain, versioned, otherSrc }) => {
      document.getElementById('gallery')!.innerHTML = `
        <img data-e2e="src" src="${plain}">
        <img data-e2e="versioned" src="${versioned}">
        <img data-e2e="srcset" srcset="${plain} 1x, ${plain}?large 2x">
        <picture><source srcset="${plain}"><img data-e2e="picture" src="${otherSrc}"></picture>
        <img data-e2e="other" src="${otherSrc}">`
    },
    { plain, versioned: await tab.evaluate((r) => window.px.imageUrl(r), original), otherSrc: routeSrc(other.id) },
  )
  for (const name of ['src', 'versioned', 'srcset', 'picture']) await expectPictureSoon(tab, name, before)
  await expectPictureSoon(tab, 'other', 'pine-forest.jpg')

  const updated = await h.backend.updateImageFromFile(original.id, fixturePath(after))
  h.recordsUsed.push(updated)
  await postRecords(tab, [updated])
  for (const name of ['src', 'versioned', 'srcset', 'picture']) await expectPictureSoon(tab, name, after)
  expect(await tab.evaluate(() => document.querySelector('img[data-e2e="src"]')!.getAttribute('src')), 'the module versioned the URL').toContain(`?v=${updated.token}`)
  expect(await tab.evaluate(() => document.querySelector('img[data-e2e="other"]')!.getAttribute('src')), 'other images are left alone').toBe(routeSrc(other.id))
  await expectPicture(tab, 'other', 'pine-forest.jpg')
})

test('first visit, records handed over after the images failed: the <img src> and the srcset-only <img> in the HTML show', async ({ session }) => {
  const names: FixtureName[] = ['radial-glow.jpg', 'color-tiles.webp']
  const ids = names.map((name) => h.saved[name].id)
  h.site.pages.set(
    '/late-records.html',
    appPage(
      h.backend.port,
      `<div id="gallery">
        <img data-e2e="${names[0]}" src="${routeSrc(ids[0]!)}">
        <img data-e2e="${names[1]}" srcset="${routeSrc(ids[1]!)} 1x">
      </div>
      <script>window.controlledAtStart = navigator.serviceWorker.controller !== null</script>`,
      `
    await px.initPixstoreFrontend({ ...config, onImageError })
    // A slow API: the records come when the test releases them.
    await new Promise((resolve) => (window.releaseRecords = resolve))
    window.widthsBeforeRecords = [...document.images].map((img) => img.naturalWidth)
    await px.setImageRecords(await api(${JSON.stringify(ids)}))
    window.pixstoreReady = true`,
    ),
  )
  const tab = await session.open(`${h.site.origin}/late-records.html`)
  expect(await tab.evaluate(() => (window as unknown as { controlledAtStart: boolean }).controlledAtStart), 'a first visit: no worker yet').toBe(false)
  // Once the worker controls the page, both images are requested through it, and fail: it has no record yet.
  await tab.waitFor(
    (ids) => ids.every((id) => window.imageErrors?.some((error) => error.id === id)),
    ids,
    { timeout: 20_000, message: 'both images were requested through the worker and failed (onImageError)' },
  )
  for (const error of await tab.evaluate(() => window.imageErrors)) expect(error).toMatchObject({ state: 'NoRecord', status: 404 })
  await tab.evaluate(() => (window as unknown as { releaseRecords: () => void }).releaseRecords())
  await waitForApp(tab)
  expect(await tab.evaluate(() => (window as unknown as { widthsBeforeRecords: number[] }).widthsBeforeRecords), 'nothing could show before the records came').toEqual([0, 0])
  for (const name of names) await expectPictureSoon(tab, name, name)
})

test('a controlled page: a srcset-only <img> and a <picture> that failed for want of a record show once setImageRecords brings it', async ({ session }) => {
  const tab = await openTestTab(session, h)
  const [a, b] = await h.freshRecords(['pixel-heart.gif', 'lime-triangles.webp'])
  await tab.evaluate(
    ({ srcsetOnly, pictureOnly }) => {
      document.getElementById('gallery')!.innerHTML = `
        <img data-e2e="srcset" srcset="${srcsetOnly} 1x">
        <picture><source srcset="${pictureOnly}"><img data-e2e="picture"></picture>`
    },
    { srcsetOnly: routeSrc(a!.id), pictureOnly: routeSrc(b!.id) },
  )
  const siteBefore = h.site.requests.length
  // Both went to the worker, which had no record (nor any page: no refreshRecords): broken images.
  await tab.waitFor(() => [...document.images].every((img) => img.complete && img.naturalWidth === 0), undefined, { message: 'both images failed' })
  expect([...h.backend.requestsFor(a!.id), ...h.backend.requestsFor(b!.id)], 'no record, no backend request').toEqual([])
  expect(h.site.requests.slice(siteBefore).filter((r) => r.path.startsWith('/pixstore-image/')), 'the worker answered them, not the site').toEqual([])
  await postRecords(tab, [a!, b!])
  await expectPictureSoon(tab, 'srcset', 'pixel-heart.gif')
  await expectPictureSoon(tab, 'picture', 'lime-triangles.webp')
})
