/**
 * Browser-side helpers for the e2e suite. Functions passed to page.evaluate
 * run in the page, so each is self-contained (no closures over Node values).
 */
import { expect, type CDPSession, type Page } from '@playwright/test'
import { playwrightTab } from './engines/chromium'
import type { BrowserSession, Tab } from './engines/engine'
import { fixtureBase64, FIXTURES, type FixtureName, type Harness, type ImageRecord, type TestBackend } from './harness'

/** The page module's API as the tests use it (window.px on the test pages). */
export interface PixstorePageApi {
  initPixstoreFrontend(config: unknown): Promise<unknown>
  setImageRecords(records: unknown[]): Promise<unknown>
  deleteCachedImage(id: string): Promise<unknown>
  cachedImageExists(id: string): Promise<boolean>
  clearImageCache(): Promise<unknown>
  imageUrl(record: { id: string; token: number }): string
}

declare global {
  interface Window {
    px: PixstorePageApi
    pxConfig: unknown
    /** On appPage pages: the ids of each refreshRecords call, and every onImageError event. */
    refreshCalls: string[][]
    imageErrors: { id: string; state: string; status: number }[]
    /** The `detail` of each onImageError event, in the same order. */
    imageErrorDetails: (string | undefined)[]
    pixstoreReady?: boolean
    pixstoreError?: string
  }
}

/** A Playwright page (the Chromium-only specs) or a Tab of any engine (the scenarios). */
export type PageOrTab = Page | Tab

/** The Tab for a Playwright page; a Tab as it is. */
export const tabOf = (target: PageOrTab): Tab => (typeof (target as Page).context === 'function' ? playwrightTab(target as Page) : (target as Tab))

/** Opens the blank test page for `backend` and waits until the page module is loaded (not yet initialized). */
export async function openTestPage(page: PageOrTab, h: Harness, backend: TestBackend = h.backend): Promise<void> {
  await tabOf(page).goto(h.testPageUrl(backend))
  await tabOf(page).waitFor(() => window.px !== undefined && window.pxConfig !== undefined, undefined, { message: 'the page module loaded' })
}

/** initPixstoreFrontend with the page's config; resolves when the worker controls the page and acknowledged. */
export async function initFrontend(page: PageOrTab): Promise<void> {
  await tabOf(page).evaluate(async () => {
    await window.px.initPixstoreFrontend(window.pxConfig)
  })
  expect(await tabOf(page).evaluate(() => navigator.serviceWorker.controller !== null), 'page is controlled by the worker after init').toBe(true)
}

/** Opens the blank test page for `backend` in a new tab of `session` and inits the page module there. */
export async function openTestTab(session: BrowserSession, h: Harness, backend: TestBackend = h.backend): Promise<Tab> {
  const tab = await session.open(h.testPageUrl(backend))
  await tab.waitFor(() => window.px !== undefined && window.pxConfig !== undefined, undefined, { message: 'the page module loaded' })
  await initFrontend(tab)
  return tab
}

export async function openAndInit(page: PageOrTab, h: Harness, backend: TestBackend = h.backend): Promise<void> {
  await openTestPage(page, h, backend)
  await initFrontend(page)
}

/** Opens and inits the test page, then reloads it (now controlled by the worker from the start) and inits again. */
export async function openInitAndReload(page: PageOrTab, h: Harness): Promise<void> {
  await openAndInit(page, h)
  await tabOf(page).reload()
  await tabOf(page).waitFor(() => window.px !== undefined, undefined, { message: 'the page module loaded' })
  expect(await tabOf(page).evaluate(() => navigator.serviceWorker.controller !== null), 'the reloaded page is controlled before init').toBe(true)
  await initFrontend(page)
}

/** setImageRecords in the page; returns whatever it resolved with. */
export async function postRecords(page: PageOrTab, records: ImageRecord[]): Promise<unknown> {
  return tabOf(page).evaluate((list) => window.px.setImageRecords(list), records)
}

export async function cachedImageExists(page: PageOrTab, id: string): Promise<boolean> {
  return tabOf(page).evaluate((imageId) => window.px.cachedImageExists(imageId), id)
}

export interface ShownImage {
  ok: boolean
  naturalWidth: number
  naturalHeight: number
}

/**
 * Adds `<img data-e2e=NAME src=SRC>` (or srcset) to the gallery and waits for
 * its load or error event.
 */
export async function showImage(page: PageOrTab, name: string, attrs: { src?: string; srcset?: string; sizes?: string }): Promise<ShownImage> {
  return tabOf(page).evaluate(
    ({ name, attrs }) =>
      new Promise<ShownImage>((resolve) => {
        const img = document.createElement('img')
        img.dataset.e2e = name
        const done = (ok: boolean) => resolve({ ok, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight })
        const timer = setTimeout(() => done(false), 20_000)
        img.addEventListener('load', () => (clearTimeout(timer), done(true)))
        img.addEventListener('error', () => (clearTimeout(timer), done(false)))
        if (attrs.sizes) img.sizes = attrs.sizes
        if (attrs.srcset) img.srcset = attrs.srcset
        if (attrs.src) img.src = attrs.src
        document.getElementById('gallery')!.append(img)
      }),
    { name, attrs },
  )
}

export const routeSrc = (id: string) => `/pixstore-image/${id}`

/** The Cache Storage cache of decrypted images. */
export const IMAGE_CACHE = 'pixstore-images-v1'

/** initPixstoreFrontend with the page's config and these `imageCache` options (the page module loaded). */
export async function initWithImageCache(page: PageOrTab, imageCache: Record<string, unknown>): Promise<void> {
  await tabOf(page).evaluate(async (cache) => {
    await window.px.initPixstoreFrontend({ ...(window.pxConfig as object), imageCache: cache })
  }, imageCache)
}

/** Shows each fixture (fresh records first) and checks its pixels; returns the ids in order. */
export async function showFixtures(page: PageOrTab, h: Harness, names: readonly FixtureName[]): Promise<string[]> {
  const records = await h.freshRecords(names)
  await postRecords(page, records)
  for (const [i, name] of names.entries()) {
    expect((await showImage(page, name, { src: routeSrc(records[i]!.id) })).ok, `${name} shows`).toBe(true)
    await expectPicture(page, name, name)
  }
  return records.map((record) => record.id)
}

/** The ids of the images in the decrypted-image cache. */
export const cachedImageIds = async (page: PageOrTab) =>
  (await cacheSnapshot(page)).filter((entry) => entry.cache === IMAGE_CACHE).map((entry) => new URL(entry.url).pathname.split('/').pop()!)

/** workbox-expiration's bookkeeping entries (URL and use time per cached image). */
export const expirationEntries = async (page: PageOrTab) =>
  (await indexedDbDump(page)).databases.filter((db) => db.name === 'workbox-expiration').flatMap((db) => db.stores.flatMap((store) => store.entries))

export interface PixelComparison {
  width: number
  height: number
  expectedWidth: number
  expectedHeight: number
  /** Bytes of RGBA data that differ (0 = identical pictures). */
  differingBytes: number
  error?: string
}

/**
 * Draws the `<img>` matching `selector` to a canvas and compares its pixels
 * with the original fixture file, decoded by the same browser from a blob URL
 * (no worker involved) and drawn the same way.
 */
export async function comparePixels(page: PageOrTab, selector: string, fixture: FixtureName): Promise<PixelComparison> {
  return comparePixelsTo(page, selector, fixtureBase64(fixture), FIXTURES[fixture].mime)
}

/** comparePixels against an original given as its bytes (base64) and type: an image a test made. */
export async function comparePixelsTo(page: PageOrTab, selector: string, base64: string, mime: string): Promise<PixelComparison> {
  return tabOf(page).evaluate(
    async ({ selector, base64, mime }) => {
      const pixels = (img: HTMLImageElement) => {
        const canvas = document.createElement('canvas')
        canvas.width = img.naturalWidth
        canvas.height = img.naturalHeight
        const context = canvas.getContext('2d', { willReadFrequently: true })!
        context.drawImage(img, 0, 0)
        return context.getImageData(0, 0, canvas.width, canvas.height).data
      }
      const shown = document.querySelector<HTMLImageElement>(selector)
      if (!shown) return { width: 0, height: 0, expectedWidth: 0, expectedHeight: 0, differingBytes: -1, error: `no element ${selector}` }
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
      const url = URL.createObjectURL(new Blob([bytes], { type: mime }))
      const original = new Image()
      original.src = url
      await original.decode()
      URL.revokeObjectURL(url)
      const result = {
        width: shown.naturalWidth,
        height: shown.naturalHeight,
        expectedWidth: original.naturalWidth,
        expectedHeight: original.naturalHeight,
        differingBytes: -1,
      }
      try {
        // A large image may still be decoding after its load event (WebKit then draws nothing): wait for its pixels.
        await shown.decode()
        const a = pixels(shown)
        const b = pixels(original)
        if (a.length !== b.length) return { ...result, error: 'sizes differ' }
        let differing = 0
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++
        return { ...result, differingBytes: differing }
      } catch (error) {
        return { ...result, error: String(error) }
      }
    },
    { selector, base64, mime },
  )
}

/** Asserts that the `<img data-e2e=NAME>` shows exactly the fixture's picture. */
export async function expectPicture(page: PageOrTab, name: string, fixture: FixtureName): Promise<void> {
  const result = await comparePixels(page, `img[data-e2e="${name}"]`, fixture)
  expect(result.error, `${name}: pixel read`).toBeUndefined()
  expect({ width: result.width, height: result.height }, `${name}: size`).toEqual({ width: FIXTURES[fixture].width, height: FIXTURES[fixture].height })
  expect(result.expectedWidth, `${name}: the original decodes to the known size`).toBe(FIXTURES[fixture].width)
  expect(result.differingBytes, `${name}: RGBA bytes differing from ${fixture}`).toBe(0)
}

/** Waits until the `<img data-e2e=NAME>` shows exactly the fixture's picture (e.g. after an update). */
export async function expectPictureSoon(page: PageOrTab, name: string, fixture: FixtureName, timeout = 15_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const result = await comparePixels(page, `img[data-e2e="${name}"]`, fixture)
        return { width: result.width, height: result.height, differingBytes: result.differingBytes, error: result.error }
      },
      { message: `${name} shows ${fixture}`, timeout },
    )
    .toEqual({ width: FIXTURES[fixture].width, height: FIXTURES[fixture].height, differingBytes: 0, error: undefined })
}

/** Waits for an appPage script to finish; fails with its error if it threw. */
export async function waitForApp(page: PageOrTab): Promise<void> {
  await tabOf(page).waitFor(() => window.pixstoreReady || window.pixstoreError, undefined, { timeout: 30_000, message: 'the app page script finished' })
  expect(await tabOf(page).evaluate(() => window.pixstoreError), 'the app page script ran without error').toBeUndefined()
}

export interface RouteFetch {
  status: number
  state: string | null
  contentType: string | null
  bytes: number
}

/** fetch() of an image URL from the page (goes through the worker), with the x-pixstore-state header. */
export async function fetchFromPage(page: PageOrTab, url: string): Promise<RouteFetch> {
  return tabOf(page).evaluate(async (target) => {
    const response = await fetch(target)
    const body = await response.arrayBuffer()
    return {
      status: response.status,
      state: response.headers.get('x-pixstore-state'),
      contentType: response.headers.get('content-type'),
      bytes: body.byteLength,
    }
  }, url)
}

export interface CacheEntry {
  cache: string
  url: string
  requestHeaders: [string, string][]
  status: number
  headers: [string, string][]
  body: string
}

/** Every entry of every Cache Storage cache of the page's origin, bodies as base64. */
export async function cacheSnapshot(page: PageOrTab): Promise<CacheEntry[]> {
  return tabOf(page).evaluate(async () => {
    const toBase64 = (bytes: Uint8Array) => {
      let binary = ''
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
      return btoa(binary)
    }
    const entries: CacheEntry[] = []
    for (const name of await caches.keys()) {
      const cache = await caches.open(name)
      for (const request of await cache.keys()) {
        const response = await cache.match(request)
        entries.push({
          cache: name,
          url: request.url,
          requestHeaders: [...request.headers],
          status: response?.status ?? -1,
          headers: response ? [...response.headers] : [],
          body: response ? toBase64(new Uint8Array(await response.arrayBuffer())) : '',
        })
      }
    }
    return entries
  })
}

export function entriesFor(entries: CacheEntry[], id: string): CacheEntry[] {
  return entries.filter((entry) => new URL(entry.url).pathname.split('/').includes(id) || entry.url.includes(encodeURIComponent(id)))
}

export interface IndexedDbDump {
  databases: { name: string; version: number; stores: { name: string; entries: unknown[] }[]; error?: string }[]
}

/**
 * Every IndexedDB database, store, key and value of the page's origin.
 * Binary values become { $bytes: base64 }; CryptoKey objects are flagged
 * ({ $cryptoKey: true }) and exported when extractable.
 */
export async function indexedDbDump(page: PageOrTab): Promise<IndexedDbDump> {
  return tabOf(page).evaluate(async () => {
    const toBase64 = (bytes: Uint8Array) => {
      let binary = ''
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
      return btoa(binary)
    }
    const serialize = async (value: unknown): Promise<unknown> => {
      if (typeof value === 'bigint') return value.toString()
      if (value === null || typeof value !== 'object') return value
      if (value instanceof ArrayBuffer) return { $bytes: toBase64(new Uint8Array(value)) }
      if (ArrayBuffer.isView(value)) return { $bytes: toBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) }
      if (value instanceof Blob) return { $bytes: toBase64(new Uint8Array(await value.arrayBuffer())), type: value.type }
      if (value instanceof CryptoKey) {
        let raw: string | null = null
        if (value.extractable) {
          try {
            raw = toBase64(new Uint8Array(await crypto.subtle.exportKey('raw', value)))
          } catch {
            raw = null
          }
        }
        return { $cryptoKey: true, algorithm: value.algorithm.name, extractable: value.extractable, $bytes: raw }
      }
      if (value instanceof Date) return value.toISOString()
      if (value instanceof Map) return { $map: await serialize([...value]) }
      if (value instanceof Set) return { $set: await serialize([...value]) }
      if (Array.isArray(value)) return Promise.all(value.map(serialize))
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = await serialize(v)
      return out
    }
    const request = <T>(req: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        req.onsuccess = () => resolve(req.result)
        req.onerror = () => reject(req.error)
      })
    const dump: IndexedDbDump = { databases: [] }
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue
      const entry: IndexedDbDump['databases'][number] = { name: info.name, version: info.version ?? 0, stores: [] }
      dump.databases.push(entry)
      try {
        const db = await request(indexedDB.open(info.name))
        for (const storeName of [...db.objectStoreNames]) {
          const store = db.transaction(storeName, 'readonly').objectStore(storeName)
          const keys = await request(store.getAllKeys())
          const values = await request(store.getAll())
          entry.stores.push({ name: storeName, entries: await serialize(keys.map((key, i) => ({ key, value: values[i] }))) as unknown[] })
        }
        db.close()
      } catch (error) {
        entry.error = String(error)
      }
    }
    return dump
  })
}

/** localStorage and sessionStorage of the page's origin. */
export async function webStorageDump(page: PageOrTab): Promise<Record<string, string>> {
  return tabOf(page).evaluate(() => {
    const out: Record<string, string> = {}
    for (const [prefix, storage] of [['local', localStorage], ['session', sessionStorage]] as const) {
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i)!
        out[`${prefix}:${key}`] = storage.getItem(key) ?? ''
      }
    }
    return out
  })
}

interface Needle {
  label: string
  texts: string[]
  bytes?: Buffer
}

function needlesFor(records: ImageRecord[]): Needle[] {
  const needles: Needle[] = []
  const seen = new Set<string>()
  for (const record of records) {
    for (const field of ['key', 'iv', 'tag'] as const) {
      const base64 = record.meta[field]
      if (seen.has(base64)) continue
      seen.add(base64)
      const raw = Buffer.from(base64, 'base64')
      needles.push({
        label: `${record.id} meta.${field}`,
        texts: [base64, raw.toString('base64url'), raw.toString('hex'), base64.replace(/=+$/, '')],
        bytes: raw,
      })
    }
    if (!seen.has(record.statelessProof)) {
      seen.add(record.statelessProof)
      needles.push({ label: `${record.id} statelessProof`, texts: [record.statelessProof] })
    }
  }
  return needles
}

function collectBytes(value: unknown, out: Buffer[]): void {
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) return value.forEach((v) => collectBytes(v, out))
  for (const [k, v] of Object.entries(value)) {
    if (k === '$bytes' && typeof v === 'string') out.push(Buffer.from(v, 'base64'))
    else collectBytes(v, out)
  }
}

function containsCryptoKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.some(containsCryptoKey)
  if ((value as Record<string, unknown>).$cryptoKey === true) return true
  return Object.values(value).some(containsCryptoKey)
}

export interface StorageScan {
  cacheEntries: number
  indexedDbDatabases: string[]
  hits: string[]
}

/**
 * Looks for every key/iv/tag (base64, base64url, hex and raw bytes) and
 * every proof of `records` in all Cache Storage entries (URL, request and
 * response headers, body), all IndexedDB data and web storage of the page's origin.
 */
export async function scanStorageForSecrets(page: PageOrTab, records: ImageRecord[]): Promise<StorageScan> {
  const entries = await cacheSnapshot(page)
  const idb = await indexedDbDump(page)
  const web = await webStorageDump(page)
  const needles = needlesFor(records)
  const hits: string[] = []
  const searchText = (where: string, text: string) => {
    const lower = text.toLowerCase()
    for (const needle of needles) {
      if (needle.texts.some((t) => text.includes(t) || (/^[0-9a-f]+$/.test(t) && lower.includes(t)))) hits.push(`${needle.label} in ${where}`)
    }
  }
  const searchBytes = (where: string, bytes: Buffer) => {
    searchText(where, bytes.toString('latin1'))
    for (const needle of needles) if (needle.bytes && bytes.indexOf(needle.bytes) !== -1) hits.push(`${needle.label} (raw bytes) in ${where}`)
  }
  for (const entry of entries) {
    const where = `Cache Storage "${entry.cache}" ${entry.url}`
    searchText(`${where} (URL)`, decodeURIComponent(entry.url) + entry.url)
    searchText(`${where} (request headers)`, JSON.stringify(entry.requestHeaders))
    searchText(`${where} (response headers)`, JSON.stringify(entry.headers))
    searchBytes(`${where} (body)`, Buffer.from(entry.body, 'base64'))
  }
  for (const db of idb.databases) {
    const where = `IndexedDB "${db.name}"`
    if (db.error) hits.push(`${where} could not be read: ${db.error}`)
    if (containsCryptoKey(db.stores)) hits.push(`${where} holds a CryptoKey`)
    searchText(where, JSON.stringify(db.stores))
    const binaries: Buffer[] = []
    collectBytes(db.stores, binaries)
    binaries.forEach((bytes, i) => searchBytes(`${where} (binary value #${i})`, bytes))
  }
  searchText('localStorage/sessionStorage', JSON.stringify(web))
  return { cacheEntries: entries.length, indexedDbDatabases: idb.databases.map((d) => d.name), hits }
}

/**
 * Stops every service worker of the browser through CDP and waits until
 * CDP reports them stopped. Returns the session and a live status map
 * (versionId → runningStatus) for later checks.
 */
export async function stopServiceWorkers(page: Page): Promise<{ cdp: CDPSession; statuses: Map<string, string[]> }> {
  const cdp = await page.context().newCDPSession(page)
  const statuses = new Map<string, string[]>()
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const version of versions) {
      const history = statuses.get(version.versionId) ?? []
      if (history.at(-1) !== version.runningStatus) history.push(version.runningStatus)
      statuses.set(version.versionId, history)
    }
  })
  await cdp.send('ServiceWorker.enable')
  await expect.poll(() => statuses.size, { message: 'CDP reports the page\'s service worker' }).toBeGreaterThan(0)
  await cdp.send('ServiceWorker.stopAllWorkers')
  await expect
    .poll(() => [...statuses.values()].every((history) => history.at(-1) === 'stopped'), { message: 'every service worker stopped' })
    .toBe(true)
  return { cdp, statuses }
}

/**
 * initPixstoreFrontend with the page's config plus `extra` (plain JSON fields,
 * e.g. proofTransport), logging every onImageError event to `window.imageErrors`.
 */
export async function initFrontendLoggingErrors(page: PageOrTab, extra: Record<string, unknown> = {}): Promise<void> {
  await tabOf(page).evaluate(async (fields) => {
    window.imageErrors = []
    window.imageErrorDetails = []
    const onImageError = ({ id, state, status, detail }: Window['imageErrors'][number] & { detail?: string }) => {
      window.imageErrors.push({ id, state, status })
      window.imageErrorDetails.push(detail)
    }
    await window.px.initPixstoreFrontend({ ...(window.pxConfig as object), ...fields, onImageError })
  }, extra)
}

/** Opens `url` (a test page) in a new tab of `session`, then initPixstoreFrontend with `extra`, logging onImageError. */
export async function openTabLoggingErrors(session: BrowserSession, url: string, extra: Record<string, unknown> = {}): Promise<Tab> {
  const tab = await session.open(url)
  await tab.waitFor(() => window.px !== undefined && window.pxConfig !== undefined, undefined, { message: 'the page module loaded' })
  await initFrontendLoggingErrors(tab, extra)
  return tab
}

/** The onImageError events the page logged as `{ id, state, status }` (see initFrontendLoggingErrors and appPage). */
export async function imageErrors(page: PageOrTab): Promise<Window['imageErrors']> {
  return tabOf(page).evaluate(() => window.imageErrors)
}

/** Adds `<img data-e2e=NAME src=SRC>` to the gallery without waiting; imageSettled() waits for it. */
export async function addImage(page: PageOrTab, name: string, src: string): Promise<void> {
  await tabOf(page).evaluate(
    ({ name, src }) => {
      const img = document.createElement('img')
      img.dataset.e2e = name
      img.addEventListener('load', () => (img.dataset.result = 'load'))
      img.addEventListener('error', () => (img.dataset.result = 'error'))
      img.src = src
      document.getElementById('gallery')!.append(img)
    },
    { name, src },
  )
}

/** Waits for the first load or error of the `<img data-e2e=NAME>` added by addImage(); 'load' or 'error'. */
export async function imageSettled(page: PageOrTab, name: string): Promise<string> {
  const result = (n: string) => document.querySelector<HTMLImageElement>(`img[data-e2e="${n}"]`)?.dataset.result
  await tabOf(page).waitFor(result, name, { timeout: 20_000, message: `${name} fired load or error` })
  return (await tabOf(page).evaluate(result, name))!
}

/** How many of the `<img data-e2e=NAME>` named show a picture (naturalWidth > 0). */
export async function imagesShown(page: PageOrTab, names: readonly string[]): Promise<number> {
  return tabOf(page).evaluate((list) => list.filter((n) => (document.querySelector<HTMLImageElement>(`img[data-e2e="${n}"]`)?.naturalWidth ?? 0) > 0).length, names)
}

/** clearImageCache() in the page (logging out); resolves with what it resolved with. */
export async function clearImageCache(page: PageOrTab): Promise<unknown> {
  return tabOf(page).evaluate(() => window.px.clearImageCache())
}

/** The `detail` of each onImageError event the page logged, in order. */
export async function imageErrorDetails(page: PageOrTab): Promise<(string | undefined)[]> {
  return tabOf(page).evaluate(() => window.imageErrorDetails)
}
