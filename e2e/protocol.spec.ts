/**
 * Page and worker from different releases fail loudly or upgrade, never hang;
 * and records go only to the page's own worker.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { expect, test } from '@playwright/test'
import { expectPicture, openTestPage, postRecords, routeSrc, showImage } from './browser'
import { DIST, frontendConfigSource, useHarness } from './harness'

const h = useHarness()

/** A worker as Pixstore shipped it before protocol version 2: it knows `connect` but not `hello`. */
const OLD_WORKER = `
self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))
self.addEventListener('message', (event) => {
  const port = event.ports[0]
  const message = event.data
  if (!port || !message || message.pixstore !== 'request') return
  if (message.type === 'connect') event.waitUntil(self.clients.claim().then(() => port.postMessage({ ok: true, value: { ready: true } })))
  else port.postMessage({ ok: false, error: 'Unknown Pixstore request "' + message.type + '"' })
})`

/** initPixstoreFrontend in the page, bounded so a hang shows as "hung" instead of a test timeout. */
async function initOutcome(page: import('@playwright/test').Page): Promise<{ ok: boolean; name?: string; message?: string; ms: number }> {
  return page.evaluate(async () => {
    const started = performance.now()
    const hung = new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error('hung'), { name: 'Hung' })), 25_000))
    try {
      await Promise.race([window.px.initPixstoreFrontend(window.pxConfig), hung])
      return { ok: true, ms: performance.now() - started }
    } catch (error) {
      return { ok: false, name: (error as Error).name, message: (error as Error).message, ms: performance.now() - started }
    }
  })
}

test('an old worker controls the page: the new page module updates it; if no matching worker exists, init rejects and says why', async ({ page }) => {
  test.setTimeout(60_000)
  // The site still serves the old worker: updating finds nothing newer.
  h.site.scripts.set('/pixstore-sw.js', OLD_WORKER)
  try {
    await openTestPage(page, h)
    const refused = await initOutcome(page)
    expect(refused.ok, 'init against an old worker with no update available').toBe(false)
    expect(refused.name).toBe('PixstoreVersionMismatchError')
    expect(refused.message).toMatch(/protocol version 2 but the service worker .* speaks version 1, and updating the registration found no other version/)
  } finally {
    h.site.scripts.delete('/pixstore-sw.js')
  }

  // The new release is deployed: the old worker still controls the page after a reload; init updates it.
  await page.reload()
  await page.waitForFunction(() => window.px !== undefined)
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the old worker controls the reloaded page').toBe(true)
  const upgraded = await initOutcome(page)
  expect(upgraded, 'init after the new worker is deployed').toMatchObject({ ok: true })
  const [record] = await h.freshRecords(['mountains.avif'])
  await postRecords(page, [record!])
  expect((await showImage(page, 'after-upgrade', { src: routeSrc(record!.id) })).ok).toBe(true)
  await expectPicture(page, 'after-upgrade', 'mountains.avif')
})

test('a page module of another protocol version than the active worker: init rejects at once, and the worker refuses an old connect', async ({ page }) => {
  // The real worker is active and controls the origin.
  await openTestPage(page, h)
  expect(await initOutcome(page)).toMatchObject({ ok: true })

  // A page module from a newer release (its protocol version patched), against today's worker.
  const source = readFileSync(path.join(DIST, 'page', 'index.js'), 'utf8')
  expect(source, 'the built page module declares its protocol version').toContain('const PROTOCOL_VERSION = 2;')
  h.site.scripts.set('/pixstore/frontend-next.js', source.replace('const PROTOCOL_VERSION = 2;', 'const PROTOCOL_VERSION = 3;'))
  h.site.pages.set(
    '/next.html',
    `<!doctype html><meta charset="utf-8"><title>next</title>
<script type="module">
  import * as px from '/pixstore/frontend-next.js'
  window.px = px
  window.pxConfig = ${frontendConfigSource(String(h.backend.port))}
</script>`,
  )
  await page.goto(`${h.site.origin}/next.html`)
  await page.waitForFunction(() => window.px !== undefined)
  const outcome = await initOutcome(page)
  expect(outcome.ok).toBe(false)
  expect(outcome.name).toBe('PixstoreVersionMismatchError')
  expect(outcome.message).toMatch(/speaks protocol version 3 but the service worker .* speaks version 2/)

  // An old page module sends `connect` without a version: today's worker answers with an error, not silence.
  const reply = await page.evaluate(
    (config) =>
      new Promise((resolve) => {
        const channel = new MessageChannel()
        channel.port1.onmessage = ({ data }) => resolve(data)
        navigator.serviceWorker.controller!.postMessage({ pixstore: 'request', type: 'connect', payload: { config } }, [channel.port2])
      }),
    { backendOrigin: h.backend.origin, route: '/pixstore-image' },
  )
  expect(reply).toMatchObject({ ok: false, error: expect.stringMatching(/page module speaks protocol version 1 but the service worker speaks 2/) })
})

/**
 * Another service worker of the same origin (another scope, another app)
 * asks every window for a record, as ours does. It must get nothing.
 */
const OTHER_WORKER = `
self.addEventListener('install', () => self.skipWaiting())
const ask = (client, type, id) =>
  new Promise((resolve) => {
    const channel = new MessageChannel()
    const timer = setTimeout(() => resolve('no answer'), 1500)
    channel.port1.onmessage = ({ data }) => (clearTimeout(timer), resolve(data))
    client.postMessage({ pixstore: 'request', type, payload: { id } }, [channel.port2])
  })
self.addEventListener('message', (event) => {
  const { probe } = event.data || {}
  if (!probe) return
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
    const answers = []
    for (const client of windows) for (const type of ['getImageRecord', 'refreshImageRecord']) answers.push({ url: client.url, type, answer: await ask(client, type, probe) })
    event.ports[0].postMessage(answers)
  })())
})`

test('a second, unrelated service worker of the same origin asking for a record gets nothing', async ({ page }) => {
  h.site.scripts.set('/other/other-sw.js', OTHER_WORKER)
  const [record] = await h.freshRecords(['target-transparent.png'])
  h.site.pages.set(
    '/owner.html',
    `<!doctype html><meta charset="utf-8"><title>owner</title><div id="gallery"></div>
<script type="module">
  import * as px from '/pixstore/frontend.js'
  window.px = px
  window.refreshCalls = []
  await px.initPixstoreFrontend({ ...${frontendConfigSource(String(h.backend.port))}, refreshRecords: async (ids) => (window.refreshCalls.push(ids), []) })
  await px.setImageRecords(${JSON.stringify([record])})
  window.pixstoreReady = true
</script>`,
  )
  await page.goto(`${h.site.origin}/owner.html`)
  await page.waitForFunction(() => window.pixstoreReady === true)
  // Control: the page holds the record and its own worker serves it.
  expect((await showImage(page, 'own', { src: routeSrc(record!.id) })).ok).toBe(true)

  const answers = await page.evaluate(async (id) => {
    const registration = await navigator.serviceWorker.register('/other/other-sw.js', { scope: '/other/' })
    const worker = registration.installing ?? registration.waiting ?? registration.active!
    if (worker.state !== 'activated') await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve(null)))
    return new Promise<{ url: string; type: string; answer: unknown }[]>((resolve) => {
      const channel = new MessageChannel()
      channel.port1.onmessage = ({ data }) => resolve(data)
      worker.postMessage({ probe: id }, [channel.port2])
    })
  }, record!.id)
  const here = answers.filter((a) => a.url === page.url())
  expect(here.map((a) => a.type), 'the other worker did reach this page with both requests').toEqual(['getImageRecord', 'refreshImageRecord'])
  for (const a of here) expect(a.answer, `${a.type} from another worker`).toBe('no answer')
  expect(await page.evaluate(() => window.refreshCalls), 'refreshRecords was not called for it').toEqual([])
})
