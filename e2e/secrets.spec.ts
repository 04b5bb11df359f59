/**
 * No key and no proof is ever written to browser storage: after a series of
 * visits in one browser context (every format, a reload, an update, a stopped
 * worker, failures, a first visit with records embedded in the HTML), every
 * Cache Storage entry, IndexedDB database and web storage item of the site
 * origin is searched for every record's key, iv, tag and proof.
 */
import { expect, test } from '@playwright/test'
import {
  cacheSnapshot,
  expectPicture,
  initFrontend,
  openAndInit,
  openTestPage,
  postRecords,
  routeSrc,
  scanStorageForSecrets,
  showImage,
  stopServiceWorkers,
} from './browser'
import { FIXTURE_NAMES, fixturePath, frontendConfigSource, useHarness, type ImageRecord } from './harness'

const h = useHarness()

test('after many visits, no key, iv, tag or proof is in Cache Storage, IndexedDB or web storage', async ({ page, context }) => {
  test.setTimeout(90_000)
  const used: ImageRecord[] = []
  const fresh = async (names: Parameters<typeof h.freshRecords>[0]) => {
    const records = await h.freshRecords(names)
    used.push(...records)
    return records
  }

  // Visit 1: every fixture.
  await openAndInit(page, h)
  const all = await fresh(FIXTURE_NAMES)
  await postRecords(page, all)
  for (const [i, name] of FIXTURE_NAMES.entries()) {
    expect((await showImage(page, name, { src: routeSrc(all[i]!.id) })).ok, `${name} shows`).toBe(true)
  }
  // Images are answered first and written afterwards; the worker is stopped below, so let the writes land
  // (one at a time, after a pause: on a loaded machine 13 writes can take longer than the default 10 s).
  await expect
    .poll(async () => (await cacheSnapshot(page)).length, { message: 'the first visit is in Cache Storage (the scan has something to look at)', timeout: 30_000 })
    .toBeGreaterThanOrEqual(FIXTURE_NAMES.length)

  // Visit 2: reload, records again (new proofs), images from the cache.
  await page.reload()
  await page.waitForFunction(() => window.px !== undefined)
  await initFrontend(page)
  const again = await fresh(FIXTURE_NAMES)
  await postRecords(page, again)
  for (const [i, name] of FIXTURE_NAMES.entries()) {
    expect((await showImage(page, name, { src: routeSrc(again[i]!.id) })).ok, `${name} shows after reload`).toBe(true)
  }

  // Visit 3: an image updated on the server.
  const original = await h.backend.saveImageFromFile(fixturePath('sunset-gradient.png'))
  used.push(original)
  await openAndInit(page, h)
  await postRecords(page, [original])
  expect((await showImage(page, 'v1', { src: routeSrc(original.id) })).ok).toBe(true)
  const updated = await h.backend.updateImageFromFile(original.id, fixturePath('rainbow-stripes.gif'))
  used.push(updated)
  await openAndInit(page, h)
  await postRecords(page, [updated])
  expect((await showImage(page, 'v2', { src: routeSrc(updated.id) })).ok).toBe(true)
  await expectPicture(page, 'v2', 'rainbow-stripes.gif')

  // Visit 4: the worker is stopped; new images go through the ask-the-page path.
  const beforeStop = await fresh(['pine-forest.jpg', 'traffic-light.gif'])
  const afterStop = await h.backend.saveImageFromFile(fixturePath('lime-triangles.webp'))
  used.push(afterStop)
  await openAndInit(page, h)
  await postRecords(page, [...beforeStop, afterStop])
  expect((await showImage(page, 'before-stop', { src: routeSrc(beforeStop[0]!.id) })).ok).toBe(true)
  await stopServiceWorkers(page)
  expect((await showImage(page, 'after-stop', { src: routeSrc(afterStop.id) })).ok, 'shown by a restarted worker').toBe(true)

  // Visit 5: failures (wrong proof, wrong key) must not leave their records behind either.
  const victim = await h.backend.saveImageFromFile(fixturePath('radial-glow.jpg'))
  const wrongProof = { ...victim, statelessProof: victim.statelessProof.slice(0, -1) + (victim.statelessProof.endsWith('A') ? 'B' : 'A') }
  const keyVictim = await h.backend.saveImageFromFile(fixturePath('pixel-heart.gif'))
  const wrongKey = { ...keyVictim, meta: victim.meta }
  used.push(victim, wrongProof, keyVictim, wrongKey)
  await openAndInit(page, h)
  await postRecords(page, [wrongProof, wrongKey])
  expect((await showImage(page, 'wrong-proof', { src: routeSrc(victim.id) })).ok).toBe(false)
  expect((await showImage(page, 'wrong-key', { src: routeSrc(keyVictim.id) })).ok).toBe(false)

  // Visit 6: a second tab with records embedded in its HTML.
  const embedded = await fresh(['concentric-rings-lossless.webp', 'checkerboard-red-blue.png'])
  h.site.pages.set(
    '/embedded.html',
    `<!doctype html><meta charset="utf-8"><title>Embedded</title>
<div id="gallery">${embedded.map((r) => `<img src="${routeSrc(r.id)}">`).join('')}</div>
<script type="module">
  import { initPixstoreFrontend, setImageRecords } from '/pixstore/frontend.js'
  await initPixstoreFrontend(${frontendConfigSource(String(h.backend.port))})
  await setImageRecords(${JSON.stringify(embedded)})
  window.pixstoreReady = true
</script>`,
  )
  const tab = await context.newPage()
  await tab.goto(`${h.site.origin}/embedded.html`)
  await tab.waitForFunction(() => (window as unknown as { pixstoreReady?: boolean }).pixstoreReady === true)
  await expect
    .poll(() => tab.evaluate(() => [...document.images].every((img) => img.complete && img.naturalWidth > 0)), { message: 'embedded images show' })
    .toBe(true)
  await tab.close()

  // Scan from a fresh tab of the same context (same origin storage).
  const scanner = await context.newPage()
  await openTestPage(scanner, h)
  const entries = await cacheSnapshot(scanner)
  expect(entries.length, 'the visits did cache images (the scan has something to look at)').toBeGreaterThanOrEqual(FIXTURE_NAMES.length)
  const scan = await scanStorageForSecrets(scanner, used)
  test.info().annotations.push({
    type: 'scanned',
    description: `${scan.cacheEntries} cache entries, IndexedDB databases: ${JSON.stringify(scan.indexedDbDatabases)}, ${used.length} records`,
  })
  expect(scan.hits, 'keys or proofs found in browser storage').toEqual([])
})

test('the storage scan finds a key when one is stored (self-check)', async ({ page }) => {
  await openTestPage(page, h)
  const [record] = await h.freshRecords(['mountains.avif'])
  // Plant one record's parts the ways a leaky implementation might store them.
  await page.evaluate(async (r) => {
    const cache = await caches.open('e2e-selfcheck')
    const raw = Uint8Array.from(atob(r.meta.iv), (c) => c.charCodeAt(0))
    await cache.put('/selfcheck/raw-iv', new Response(raw))
    await cache.put('/selfcheck/header', new Response('x', { headers: { 'x-proof': r.statelessProof } }))
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open('e2e-selfcheck', 1)
      open.onupgradeneeded = () => open.result.createObjectStore('records')
      open.onerror = () => reject(open.error)
      open.onsuccess = () => {
        const tx = open.result.transaction('records', 'readwrite')
        tx.objectStore('records').put({ key: Uint8Array.from(atob(r.meta.key), (c) => c.charCodeAt(0)) }, 'a')
        tx.objectStore('records').put(r.meta.tag, 'b')
        tx.oncomplete = () => (open.result.close(), resolve())
        tx.onerror = () => reject(tx.error)
      }
    })
  }, record!)
  const scan = await scanStorageForSecrets(page, [record!])
  const found = scan.hits.join('\n')
  expect(found).toContain('meta.iv (raw bytes) in Cache Storage')
  expect(found).toContain('statelessProof in Cache Storage')
  expect(found).toContain('meta.key (raw bytes) in IndexedDB')
  expect(found).toContain('meta.tag in IndexedDB')
})
