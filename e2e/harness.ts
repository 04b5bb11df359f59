/**
 * E2E harness: a real Pixstore backend (the built dist/server) on a real
 * ephemeral port, and a separate "site" server on another port that serves
 * the test pages, the built service worker and the built page module — the
 * way an application would. Two ports = two origins, so CORS is exercised.
 *
 * Every request that reaches a backend is logged (method, path, Origin,
 * status, Access-Control-Allow-Origin), so tests can count them.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from '@playwright/test'
import Koa from 'koa'
import {
  createPixstoreApp,
  getImageRecord,
  getImageRecords,
  getLastPixstoreError,
  initPixstoreBackend,
  PixstoreBackend,
  pixstoreServiceWorker,
  saveImageFromFile,
  updateImageFromFile,
  type ImageRecord,
  type PixstoreConfig,
} from '../dist/server/index.js'

export type { ImageRecord }

const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const DIST = path.join(ROOT, 'dist')
export const FIXTURE_DIR = path.join(ROOT, 'fixtures', 'images')
export const ROUTE = '/pixstore-image'

/** The fixture images, with what the browser must decode them to. */
export const FIXTURES = {
  'sunset-gradient.png': { mime: 'image/png', width: 160, height: 120 },
  'checkerboard-red-blue.png': { mime: 'image/png', width: 128, height: 96 },
  'target-transparent.png': { mime: 'image/png', width: 120, height: 90 },
  'ocean-waves.jpg': { mime: 'image/jpeg', width: 140, height: 100 },
  'pine-forest.jpg': { mime: 'image/jpeg', width: 128, height: 96 },
  'radial-glow.jpg': { mime: 'image/jpeg', width: 150, height: 110 },
  'lime-triangles.webp': { mime: 'image/webp', width: 144, height: 96 },
  'concentric-rings-lossless.webp': { mime: 'image/webp', width: 120, height: 120 },
  'color-tiles.webp': { mime: 'image/webp', width: 128, height: 80 },
  'traffic-light.gif': { mime: 'image/gif', width: 64, height: 140 },
  'pixel-heart.gif': { mime: 'image/gif', width: 96, height: 96 },
  'rainbow-stripes.gif': { mime: 'image/gif', width: 160, height: 64 },
  'mountains.avif': { mime: 'image/avif', width: 128, height: 96 },
} as const satisfies Record<string, { mime: string; width: number; height: number }>

export type FixtureName = keyof typeof FIXTURES
export const FIXTURE_NAMES = Object.keys(FIXTURES) as FixtureName[]

export function fixturePath(name: FixtureName): string {
  return path.join(FIXTURE_DIR, name)
}

export function fixtureBase64(name: FixtureName): string {
  return readFileSync(fixturePath(name)).toString('base64')
}

/** One request that reached a backend. */
export interface BackendRequest {
  method: string
  path: string
  origin: string | undefined
  status: number
  allowOrigin: string | undefined
  /** Where the request carried its proof (never the proof itself). */
  proofIn: 'query' | 'header' | 'none'
  referer: string | undefined
}

/** What a test needs from a backend: where it is, what reached it, and its store API. */
export interface TestBackend {
  origin: string
  port: number
  requests: BackendRequest[]
  /** Requests whose path is the image route for `id`. */
  requestsFor(id: string): BackendRequest[]
  saveImageFromFile(file: string): Promise<ImageRecord>
  updateImageFromFile(id: string, file: string): Promise<ImageRecord>
  getImageRecord(id: string): Promise<ImageRecord>
  /** Fresh records for the ids that exist (what an app's refresh endpoint answers). */
  getImageRecords(ids: string[]): Promise<ImageRecord[]>
  /** A valid proof for any id, stored or not (to reach the NotFound state). */
  createStatelessProof(id: string): string
  /** Extra backends only: stops listening (connections refused) and listens again on the same port, store kept. */
  stopListening?(): Promise<void>
  listenAgain?(): Promise<void>
  close(): Promise<void>
}

function logRequests(server: http.Server, log: BackendRequest[]): void {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.on('finish', () => {
      const allowOrigin = res.getHeader('access-control-allow-origin')
      const url = new URL(req.url ?? '/', 'http://x')
      log.push({
        method: req.method ?? '',
        path: url.pathname,
        proofIn: url.searchParams.has('pixstore-proof') ? 'query' : req.headers['x-pixstore-proof'] ? 'header' : 'none',
        referer: req.headers.referer,
        origin: req.headers.origin,
        status: res.statusCode,
        allowOrigin: allowOrigin === undefined ? undefined : String(allowOrigin),
      })
    })
  })
}

function must<T>(value: T | null, what: string, lastError: () => Error | null): T {
  if (value === null) throw new Error(`${what} failed: ${lastError()?.message ?? 'returned null'}`)
  return value
}

function withRequestHelpers(base: Omit<TestBackend, 'requestsFor'>): TestBackend {
  return {
    ...base,
    requestsFor: (id) => base.requests.filter((r) => r.path === `${ROUTE}/${encodeURIComponent(id)}` || r.path === `${ROUTE}/${id}`),
  }
}

async function tempStore(): Promise<{ dir: string; imageRootDir: string; databasePath: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pixstore-e2e-'))
  return { dir, imageRootDir: path.join(dir, 'images'), databasePath: path.join(dir, 'pixstore.sqlite') }
}

/**
 * The main backend through `initPixstoreBackend` (the default endpoint) and
 * the module-level API, exactly as an application uses it.
 */
export async function startDefaultBackend(overrides: Partial<PixstoreConfig> = {}): Promise<TestBackend> {
  const store = await tempStore()
  const handle = await initPixstoreBackend({
    defaultEndpointEnabled: true,
    defaultEndpointListenHost: '127.0.0.1',
    defaultEndpointListenPort: 0,
    defaultEndpointRoute: ROUTE,
    accessControlAllowOrigin: '*',
    statelessKeyWindowLength: 10 * 60_000,
    statelessProofSecret: randomBytes(32).toString('hex'),
    imageRootDir: store.imageRootDir,
    databasePath: store.databasePath,
    ...overrides,
  })
  if (!handle.server || !handle.url) throw new Error('initPixstoreBackend did not start the default endpoint')
  const requests: BackendRequest[] = []
  logRequests(handle.server, requests)
  const port = (handle.server.address() as AddressInfo).port
  return withRequestHelpers({
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    saveImageFromFile: async (file) => must(await saveImageFromFile(file), `saveImageFromFile(${file})`, getLastPixstoreError),
    updateImageFromFile: async (id, file) => must(await updateImageFromFile(id, file), `updateImageFromFile(${id})`, getLastPixstoreError),
    getImageRecord: async (id) => must(await getImageRecord(id), `getImageRecord(${id})`, getLastPixstoreError),
    getImageRecords: async (ids) => must(await getImageRecords(ids), 'getImageRecords', getLastPixstoreError),
    createStatelessProof: (id) => handle.backend.createStatelessProof(id),
    close: async () => {
      await handle.close()
      await rm(store.dir, { recursive: true, force: true })
    },
  })
}

/**
 * A second, independent backend (its own store and config) through
 * `new PixstoreBackend` + `createPixstoreApp`, for tests that need a
 * different config (a short proof window, a CORS allow-list) next to the main one.
 */
export async function startExtraBackend(overrides: Partial<PixstoreConfig> = {}): Promise<TestBackend> {
  const store = await tempStore()
  const backend = new PixstoreBackend({
    defaultEndpointEnabled: false,
    defaultEndpointRoute: ROUTE,
    accessControlAllowOrigin: '*',
    statelessKeyWindowLength: 10 * 60_000,
    statelessProofSecret: randomBytes(32).toString('hex'),
    imageRootDir: store.imageRootDir,
    databasePath: store.databasePath,
    ...overrides,
  })
  const server = http.createServer(createPixstoreApp(backend).callback())
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => (server.off('error', reject), resolve()))
    })
  const stopListening = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  await listen(0)
  const requests: BackendRequest[] = []
  logRequests(server, requests)
  const port = (server.address() as AddressInfo).port
  const lastError = () => backend.lastError
  return withRequestHelpers({
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    saveImageFromFile: async (file) => must(await backend.saveImageFromFile(file), `saveImageFromFile(${file})`, lastError),
    updateImageFromFile: async (id, file) => must(await backend.updateImageFromFile(id, file), `updateImageFromFile(${id})`, lastError),
    getImageRecord: async (id) => must(await backend.getImageRecord(id), `getImageRecord(${id})`, lastError),
    getImageRecords: async (ids) => must(await backend.getImageRecords(ids), 'getImageRecords', lastError),
    createStatelessProof: (id) => backend.createStatelessProof(id),
    stopListening,
    listenAgain: () => listen(port),
    close: async () => {
      if (server.listening) await stopListening()
      await backend.close()
      await rm(store.dir, { recursive: true, force: true })
    },
  })
}

/** One request that reached the site server. */
export interface SiteRequest {
  method: string
  path: string
  status: number
}

export interface TestSite {
  origin: string
  port: number
  requests: SiteRequest[]
  /** Pages the site serves: path → HTML (or a function of the request URL). */
  pages: Map<string, string | ((url: URL) => string | Promise<string>)>
  /** Where `/api/records?backend=PORT&ids=a,b` gets fresh records. */
  backends: Map<number, TestBackend>
  /** Scripts the site serves as JavaScript: path → source. Wins over the real worker at `/pixstore-sw.js`. */
  scripts: Map<string, string>
  close(): Promise<void>
}

function workerMiddleware(): Koa.Middleware {
  try {
    // The backend's own helper for serving the built worker, as an app would use it.
    return pixstoreServiceWorker({ path: '/pixstore-sw.js' })
  } catch (error) {
    const file = path.join(DIST, 'pixstore-sw.js')
    if (!existsSync(file)) throw error
    const script = readFileSync(file)
    return async (ctx, next) => {
      if (ctx.path !== '/pixstore-sw.js') return next()
      ctx.type = 'text/javascript'
      ctx.set('Cache-Control', 'no-cache')
      ctx.body = script
    }
  }
}

/**
 * The application's own web server. It knows nothing about `/pixstore-image/*`
 * (those requests get the default 404), like a real site.
 */
export async function startSite(): Promise<TestSite> {
  const pageModule = path.join(DIST, 'page', 'index.js')
  if (!existsSync(pageModule)) throw new Error(`${pageModule} is missing: run \`npm run build\` before the e2e suite`)
  const pages: TestSite['pages'] = new Map()
  const backends: TestSite['backends'] = new Map()
  const scripts: TestSite['scripts'] = new Map()
  const requests: SiteRequest[] = []
  const app = new Koa()
  app.use(async (ctx, next) => {
    try {
      await next()
    } finally {
      requests.push({ method: ctx.method, path: ctx.path, status: ctx.status })
    }
  })
  app.use(async (ctx, next) => {
    const script = ctx.method === 'GET' ? scripts.get(ctx.path) : undefined
    if (script === undefined) return next()
    ctx.type = 'text/javascript'
    ctx.set('Cache-Control', 'no-cache')
    ctx.body = script
  })
  app.use(workerMiddleware())
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET') return next()
    if (ctx.path === '/pixstore/frontend.js') {
      ctx.type = 'text/javascript'
      ctx.set('Cache-Control', 'no-cache')
      ctx.body = readFileSync(pageModule)
      return
    }
    if (ctx.path === '/api/records') {
      // The app's small API: hands records (fresh proofs) to its own pages.
      const backend = backends.get(Number(ctx.query.backend))
      if (!backend) {
        ctx.status = 400
        ctx.body = 'unknown backend'
        return
      }
      const ids = String(ctx.query.ids ?? '').split(',').filter(Boolean)
      ctx.set('Cache-Control', 'no-store')
      ctx.body = await backend.getImageRecords(ids)
      return
    }
    const page = pages.get(ctx.path)
    if (page !== undefined) {
      ctx.type = 'text/html'
      ctx.set('Cache-Control', 'no-store')
      ctx.body = typeof page === 'string' ? page : await page(new URL(ctx.href))
      return
    }
    return next()
  })
  const server = http.createServer(app.callback())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  pages.set('/test.html', TEST_PAGE)
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    pages,
    backends,
    scripts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The frontend config for a backend, as the page module takes it. */
export function frontendConfig(backendPort: number) {
  return { defaultEndpointConnectHost: '127.0.0.1', defaultEndpointConnectPort: backendPort, defaultEndpointRoute: ROUTE }
}

/**
 * A blank application page: loads the page module and exposes it as
 * `window.px`, with the frontend config for `?backend=PORT` as `window.pxConfig`.
 * Tests drive it with page.evaluate.
 */
const TEST_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Pixstore e2e</title></head>
<body>
<div id="gallery"></div>
<script type="module">
  import * as px from '/pixstore/frontend.js'
  const port = Number(new URLSearchParams(location.search).get('backend'))
  window.pxConfig = ${frontendConfigSource('port')}
  window.px = px
</script>
</body></html>`

/**
 * An application page for `backendPort`: `body` is its HTML, `script` runs as
 * a module with `px` (the page module), `config` (the frontend config),
 * `api(ids)` (fresh records from the site's API), `refreshRecords` (the same,
 * logging each call's ids to `window.refreshCalls`) and `onImageError`
 * (logging `{ id, state, status }` to `window.imageErrors`, each `detail` to `window.imageErrorDetails`). An exception ends up in `window.pixstoreError`.
 */
export function appPage(backendPort: number, body: string, script: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Pixstore app</title></head>
<body>
${body}
<script type="module">
  import * as px from '/pixstore/frontend.js'
  window.px = px
  window.refreshCalls = []
  window.imageErrors = []
  const config = ${frontendConfigSource(String(backendPort))}
  const api = async (ids) => (await fetch('/api/records?backend=${backendPort}&ids=' + ids.join(','))).json()
  const refreshRecords = (ids) => (window.refreshCalls.push(ids), api(ids))
  window.imageErrorDetails = []
  const onImageError = ({ id, state, status, detail }) => (window.imageErrors.push({ id, state, status }), window.imageErrorDetails.push(detail))
  try {
${script}
  } catch (error) {
    window.pixstoreError = String(error && error.stack || error)
  }
</script>
</body></html>`
}

export function frontendConfigSource(portExpression: string): string {
  return `{ defaultEndpointConnectHost: '127.0.0.1', defaultEndpointConnectPort: ${portExpression}, defaultEndpointRoute: '${ROUTE}' }`
}

/** Everything one spec file uses: a backend, a site, and all fixtures stored once. */
export interface Harness {
  backend: TestBackend
  site: TestSite
  /** Fixture name → the record saveImageFromFile returned (its id is what matters). */
  saved: Record<FixtureName, ImageRecord>
  /** `${site.origin}/test.html?backend=PORT` */
  testPageUrl(backend?: TestBackend): string
  /** Every record handed to a browser by this file's tests (for the secrets scan). */
  recordsUsed: ImageRecord[]
  /** Fresh records for a list of fixtures (what the app would embed in a page). */
  freshRecords(names: readonly FixtureName[]): Promise<ImageRecord[]>
}

/**
 * Per spec file: starts the backend and site in beforeAll, stores every
 * fixture, and tears it all down in afterAll. The returned object is filled
 * in by beforeAll.
 */
export function useHarness(): Harness {
  const h = { recordsUsed: [] as ImageRecord[] } as Harness
  test.beforeAll(async () => {
    const backend = await startDefaultBackend()
    const site = await startSite()
    site.backends.set(backend.port, backend)
    const saved = {} as Record<FixtureName, ImageRecord>
    for (const name of FIXTURE_NAMES) saved[name] = await backend.saveImageFromFile(fixturePath(name))
    Object.assign(h, {
      backend,
      site,
      saved,
      testPageUrl: (b: TestBackend = backend) => `${site.origin}/test.html?backend=${b.port}`,
      freshRecords: async (names: readonly FixtureName[]) => {
        const records = await Promise.all(names.map((name) => backend.getImageRecord(saved[name].id)))
        h.recordsUsed.push(...records)
        return records
      },
    } satisfies Omit<Harness, 'recordsUsed'>)
  })
  test.afterAll(async () => {
    await h.site?.close()
    await h.backend?.close()
  })
  return h
}
