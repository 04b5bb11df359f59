// Section 4: headless Chromium loads a page of N images, (a) through Pixstore's
// service worker from the Pixstore backend, (b) as plain <img src> from a
// static server. Timed inside the page with performance.now() and load events.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Koa from 'koa'
import terser from '@rollup/plugin-terser'
import { rollup } from 'rollup'
import { pixstoreServiceWorker, type ImageRecord } from '../server/index'
import type { Row } from './report'
import type { ServerProcess } from './serverProcess'
import { balancedOrder, median, summarize, verdict, VERDICT_LEVEL, type Pair } from './stats'
import { workerThreadCpu } from './workerThreadCpu'

const DIST = fileURLToPath(new URL('../dist/', import.meta.url))
const WORKER_FILE = path.join(DIST, 'pixstore-sw.js')
const PAGE_MODULE = path.join(DIST, 'page', 'index.js')
const CHROMIUM = '/usr/bin/chromium'
const ROUTE = '/pixstore-image'
/** Pause between a first visit's last image and the warm reload, the same for every page. */
const SETTLE_BEFORE_RELOAD_MS = 1000

/** Why the browser section cannot run, or null when it can. */
export function browserUnavailable(): string | null {
  for (const file of [WORKER_FILE, PAGE_MODULE, CHROMIUM]) if (!existsSync(file)) return `${file} is missing`
  return null
}

export interface BrowserSetup {
  pixstore: ServerProcess
  plain: ServerProcess
  /** Records of the gallery images, in the same order as plainPaths. */
  records: ImageRecord[]
  /** Paths on the plain server of the same (plaintext) image files. */
  plainPaths: string[]
  imageSize: string
  rounds: number
  /** dist/ of an earlier build (PIXSTORE_BENCH_BEFORE_DIST): its page module and worker run the Pixstore page again as a "before" column, same run, same images. */
  beforeDist?: string
}

/**
 * `worker`: the plain images through a bare service worker (fetch, whole body, answer): what interception alone costs.
 * `before`: the Pixstore page with an earlier build's page module and worker (BrowserSetup.beforeDist).
 */
type Mode = 'pixstore' | 'plain' | 'worker' | 'before'
const MODE_NAMES: Record<Mode, string> = { pixstore: 'Pixstore', plain: 'plain', worker: 'bare worker', before: 'Pixstore before' }
const modesOf = (setup: BrowserSetup): readonly Mode[] => ['pixstore', 'plain', 'worker', ...(setup.beforeDist ? (['before'] as const) : [])]
const usesPixstore = (mode: Mode) => mode === 'pixstore' || mode === 'before'

/**
 * Rounds against the earlier build beyond the timed ones (rows 4j-4l, only
 * with a before build), added a batch at a time until each row's ratio is
 * decided against BEFORE_TARGET (its VERDICT_LEVEL interval wholly on one
 * side: verdict) or its cap is reached. Per-round ratios of first visits run
 * from 0.5x to 2x: 75 pairs put a 90% interval within about +-5%, which
 * decides nothing for a ratio near 1.02x. A first-visit pair takes about
 * 1.3 s; a reload pair (first visit, the settle pause, reload) about 4 s, and
 * its first visits count for 4j-4k too. The first batch always runs (reload
 * pairs), so no row is judged on the 15 timed rounds alone.
 */
const BEFORE_TARGET = 1.05
const BEFORE_BATCH = 30
const BEFORE_MAX_FIRST_VISITS = 300
const BEFORE_MAX_RELOADS = 90

/** Traced first visits per page with a worker, for its thread's CPU (rows 4m-4n): about 2.5 s each. */
const TRACED_VISITS = 15

/**
 * The bare worker: what Pixstore's worker does minus records, proofs,
 * decryption and caching. It answers after the whole body, as Pixstore must
 * (AES-GCM authenticates the whole ciphertext), with the image server's
 * Cache-Control, so a reload may reuse the browser's memory copies as
 * Pixstore's answers (private, max-age) may.
 */
export const BARE_WORKER = `self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))
self.addEventListener('fetch', (event) => {
  if (event.request.destination !== 'image') return
  event.respondWith((async () => {
    const response = await fetch(event.request.url, { mode: 'cors', credentials: 'omit', cache: 'no-store' })
    const body = await response.arrayBuffer()
    return new Response(body, { headers: { 'Content-Type': response.headers.get('Content-Type'), 'Cache-Control': response.headers.get('Cache-Control') } })
  })())
})`

/** What the page reports; times are performance.now(), i.e. ms since navigation start. */
interface PageTiming {
  controlledAtStart: boolean
  /** The page's module script starts running (Pixstore: after its import of the page module). */
  scriptStart: number
  /** Pixstore: initPixstoreFrontend resolved; plain: same as scriptStart. */
  initDone: number
  /** Pixstore: setImageRecords resolved too; plain: same as scriptStart. */
  ready: number
  inserted: number
  done: number
  failed: number
  /** Navigation Timing: the HTML's first and last byte (ms since navigation start). */
  htmlStart: number
  htmlEnd: number
  /** Resource Timing of the page's bundle: its last byte. */
  bundleEnd: number
  /** Resource Timing of the images, medians per image (NaN when the browser reported none). */
  waitMs: number
  bodyMs: number
}

interface Visit {
  timing: PageTiming
  /** Requests that reached the image server during this visit, by "METHOD /segment". */
  requests: Record<string, number>
}

/** A fresh profile's first visit and its reload after the settle pause. */
interface Reload {
  first: Visit
  warm: Visit
}

interface ModeRound extends Reload {
  returning: Visit
}

/**
 * Each page's script as an application ships it: one minified bundle
 * (rollup and terser; for Pixstore the app code with the page module,
 * dist/page/index.js, inside), served under a content-hashed name with a year of `immutable` caching, as
 * bundlers emit it. Both pages load theirs the same way, so the difference
 * is Pixstore's code and work, not how the script is delivered.
 */
async function appBundle(mode: Mode, setup: BrowserSetup): Promise<{ path: string; source: string }> {
  const entry = '\0bench-app'
  const bundle = await rollup({
    input: entry,
    onwarn: (warning) => {
      throw new Error(`bench bundle: ${warning.message}`)
    },
    plugins: [
      {
        name: 'bench-app',
        resolveId: (id) => (id === entry ? entry : id === 'pixstore/frontend' ? (mode === 'before' ? path.join(setup.beforeDist!, 'page', 'index.js') : PAGE_MODULE) : null),
        load: (id) => (id === entry ? appSource(mode, setup) : null),
      },
      terser(),
    ],
  })
  const { output } = await bundle.generate({ format: 'es' })
  await bundle.close()
  const source = output[0].code
  return { path: `/app/${mode}.${createHash('sha256').update(source).digest('hex').slice(0, 12)}.js`, source }
}

function pageHtml(mode: Mode, setup: BrowserSetup, bundlePath: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Pixstore bench: ${mode}</title></head>
<body>
<div id="gallery"></div>
${usesPixstore(mode) ? `<script type="application/json" id="records">${JSON.stringify(setup.records)}</script>` : ''}
<script type="module" src="${bundlePath}"></script>
</body></html>`
}

/** The page's own code: set up (Pixstore), insert the <img> tags, time it. */
function appSource(mode: Mode, setup: BrowserSetup): string {
  // Pixstore: what imageUrl(record) gives, {route}/{id}?v={token}, as the README tells apps to write.
  const srcs = usesPixstore(mode) ? setup.records.map((r) => `${ROUTE}/${r.id}?v=${r.token}`) : setup.plainPaths.map((p) => `${setup.plain.origin}${p}`)
  const config = { defaultEndpointConnectHost: '127.0.0.1', defaultEndpointConnectPort: setup.pixstore.port, defaultEndpointRoute: ROUTE, ...(mode === 'before' ? { serviceWorkerUrl: '/before-sw.js' } : {}) }
  const workerSetup = `
  await navigator.serviceWorker.register('/bare-sw.js')
  if (!navigator.serviceWorker.controller) await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
  initDone = performance.now()`
  const pixstoreSetup = `
  await initPixstoreFrontend(${JSON.stringify(config)})
  initDone = performance.now()
  await setImageRecords(JSON.parse(document.getElementById('records').textContent))
  window.benchClearCache = clearImageCache`
  return `${usesPixstore(mode) ? `import { initPixstoreFrontend, setImageRecords, clearImageCache } from 'pixstore/frontend'` : ''}
const srcs = ${JSON.stringify(srcs)}
const scriptStart = performance.now()
const controlledAtStart = !!(navigator.serviceWorker && navigator.serviceWorker.controller)
const median = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  return sorted.length ? sorted[sorted.length >> 1] : NaN
}
window.benchRun = (async () => {
  let initDone = scriptStart
  ${usesPixstore(mode) ? pixstoreSetup : mode === 'worker' ? workerSetup : ''}
  const ready = performance.now()
  const gallery = document.getElementById('gallery')
  const inserted = performance.now()
  const results = await Promise.all(srcs.map((src) => new Promise((resolve) => {
    const img = document.createElement('img')
    img.width = 64
    img.addEventListener('load', () => resolve(img.naturalWidth > 0))
    img.addEventListener('error', () => resolve(false))
    img.src = src
    gallery.append(img)
  })))
  const done = performance.now()
  const images = performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'img' && e.startTime >= inserted)
  const navigation = performance.getEntriesByType('navigation')[0]
  const bundle = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.js') && e.initiatorType === 'script')
  return {
    controlledAtStart, scriptStart, initDone, ready, inserted, done,
    htmlStart: navigation ? navigation.responseStart : NaN, htmlEnd: navigation ? navigation.responseEnd : NaN, bundleEnd: bundle ? bundle.responseEnd : NaN,
    failed: results.filter((ok) => !ok).length,
    waitMs: median(images.map((e) => e.responseStart - e.startTime)),
    bodyMs: median(images.map((e) => e.responseEnd - e.responseStart)),
  }
})()
`
}

async function startSite(setup: BrowserSetup): Promise<{ origin: string; close: () => Promise<void> }> {
  const bundles = new Map<string, string>()
  const pages: Record<string, string> = {}
  for (const mode of modesOf(setup)) {
    const bundle = await appBundle(mode, setup)
    bundles.set(bundle.path, bundle.source)
    pages[`/${mode}.html`] = pageHtml(mode, setup, bundle.path)
  }
  const app = new Koa()
  // The backend's own helper serves the built worker, as an application would.
  app.use(pixstoreServiceWorker({ path: '/pixstore-sw.js', file: WORKER_FILE }))
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET') return next()
    if (ctx.path === '/bare-sw.js') {
      ctx.type = 'text/javascript'
      ctx.set('Cache-Control', 'no-cache')
      ctx.body = BARE_WORKER
      return
    }
    if (ctx.path === '/before-sw.js' && setup.beforeDist) {
      ctx.type = 'text/javascript'
      ctx.set('Cache-Control', 'no-cache')
      ctx.body = readFileSync(path.join(setup.beforeDist, 'pixstore-sw.js'))
      return
    }
    const bundle = bundles.get(ctx.path)
    if (bundle !== undefined) {
      ctx.type = 'text/javascript'
      ctx.set('Cache-Control', 'public, max-age=31536000, immutable')
      ctx.body = bundle
      return
    }
    const html = Object.hasOwn(pages, ctx.path) ? pages[ctx.path] : undefined
    if (html === undefined) return next()
    ctx.type = 'text/html'
    ctx.set('Cache-Control', 'no-store')
    ctx.body = html
  })
  const server = http.createServer(app.callback())
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, count] of Object.entries(after)) if (count - (before[key] ?? 0) > 0) out[key] = count - (before[key] ?? 0)
  return out
}

export async function benchBrowser(setup: BrowserSetup): Promise<{ rows: Row[]; notes: string[] }> {
  const { chromium } = await import('@playwright/test')
  const site = await startSite(setup)
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  const imageServer = (mode: Mode) => (usesPixstore(mode) ? setup.pixstore : setup.plain)
  const modes = modesOf(setup)
  const count = setup.records.length

  async function visit(mode: Mode, page: import('@playwright/test').Page, navigate: () => Promise<unknown>, consoleErrors: string[]): Promise<Visit> {
    const before = (await imageServer(mode).sample()).requests
    await navigate()
    const timing = await Promise.race([
      page.evaluate(() => (window as unknown as { benchRun: Promise<PageTiming> }).benchRun),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${mode} page did not finish within 30 s`)), 30_000)),
    ])
    if (timing.failed > 0) {
      throw new Error(`${mode}: ${timing.failed} of ${count} images failed to load${consoleErrors.length ? `; console: ${consoleErrors.slice(0, 3).join(' | ')}` : ''}`)
    }
    return { timing, requests: delta((await imageServer(mode).sample()).requests, before) }
  }

  /** `act` in a fresh browser profile (a new context: no service worker, empty HTTP cache and Cache Storage), closed afterwards. */
  async function inFreshProfile<T>(act: (page: import('@playwright/test').Page, context: import('@playwright/test').BrowserContext) => Promise<T>): Promise<T> {
    const context = await browser.newContext({ serviceWorkers: 'allow' })
    try {
      return await act(await context.newPage(), context)
    } finally {
      await context.close()
    }
  }

  /** A first visit in a fresh profile and, after the pause a person takes, a reload; then `more` in the same profile. */
  async function visitAndReload<T>(mode: Mode, more: (page: import('@playwright/test').Page, context: import('@playwright/test').BrowserContext, consoleErrors: string[]) => Promise<T>): Promise<Reload & T> {
    return inFreshProfile(async (page, context) => {
      const consoleErrors: string[] = []
      page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()))
      page.on('pageerror', (error) => consoleErrors.push(error.message))
      const first = await visit(mode, page, () => page.goto(`${site.origin}/${mode}.html`), consoleErrors)
      // A person reloads after the page settled, not within its load event: both pages get the same pause,
      // so the browser's write-behind (its HTTP disk cache; the worker's Cache Storage) is not what is timed.
      await page.waitForTimeout(SETTLE_BEFORE_RELOAD_MS)
      const warm = await visit(mode, page, () => page.reload(), consoleErrors)
      return { first, warm, ...(await more(page, context, consoleErrors)) }
    })
  }

  /** A timed round of one page: first visit, warm reload, and a returning visit with empty caches. */
  const runMode = (mode: Mode): Promise<ModeRound> =>
    visitAndReload(mode, async (page, context, consoleErrors) => {
      // Returning visitor whose caches are empty: the worker stays installed (Pixstore: clearImageCache()); the
      // browser's caches, memory included, are cleared for both.
      if (usesPixstore(mode)) await page.evaluate(() => (window as unknown as { benchClearCache: () => Promise<number> }).benchClearCache())
      await (await context.newCDPSession(page)).send('Network.clearBrowserCache')
      return { returning: await visit(mode, page, () => page.reload(), consoleErrors) }
    })

  /** A first visit alone, in a fresh profile. */
  const firstVisit = (mode: Mode): Promise<Visit> => inFreshProfile((page) => visit(mode, page, () => page.goto(`${site.origin}/${mode}.html`), []))

  /** A first visit in a fresh profile under a trace: the CPU its service worker thread spent. */
  const tracedFirstVisit = (mode: Mode): Promise<number> =>
    inFreshProfile((page) =>
      workerThreadCpu(browser, async () => {
        await visit(mode, page, () => page.goto(`${site.origin}/${mode}.html`), [])
        // The worker stores the images after the page has them: that is its work too.
        await page.waitForTimeout(SETTLE_BEFORE_RELOAD_MS)
      }),
    )

  const rounds: Record<Mode, ModeRound>[] = []
  const workerModes = modes.filter((mode) => mode !== 'plain')
  const workerCpu = Object.fromEntries(workerModes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>
  /** The extra rounds against the earlier build: first visits alone, or with their reloads. */
  const beforeRounds: Record<'pixstore' | 'before', { first: Visit; warm?: Visit }>[] = []
  /** Pixstore against the earlier build over the timed and the extra rounds, for `visit` of each. */
  const againstBefore = (pick: (v: Visit) => number, visit: 'first' | 'warm'): Pair[] =>
    [...rounds, ...beforeRounds].flatMap((r) => {
      const [pixstore, before] = [r.pixstore[visit], r.before[visit]]
      return pixstore && before ? [{ pixstore: pick(pixstore), plain: pick(before) }] : []
    })
  const imagesOnly = (v: Visit) => v.timing.done - v.timing.inserted
  const loaded = (v: Visit) => v.timing.done
  const undecided = (pairs: Pair[]) => verdict(summarize(pairs).interval.range, { atMost: BEFORE_TARGET }) === 'undecided'
  try {
    for (let round = -1; round < setup.rounds; round++) {
      // Round -1 warms up the browser, servers and disk cache; it is thrown away. Order alternates.
      const order = balancedOrder(modes, round)
      const result = {} as Record<Mode, ModeRound>
      for (const mode of order) result[mode] = await runMode(mode)
      if (round >= 0) rounds.push(result)
      process.stdout.write('.')
    }
    if (setup.beforeDist) {
      let [firstVisits, reloads] = [0, 0]
      for (;;) {
        const reloadsOpen = reloads < BEFORE_MAX_RELOADS && (reloads === 0 || undecided(againstBefore(loaded, 'warm')))
        const firstOpen = firstVisits < BEFORE_MAX_FIRST_VISITS && (firstVisits === 0 || undecided(againstBefore(imagesOnly, 'first')) || undecided(againstBefore(loaded, 'first')))
        if (!reloadsOpen && !firstOpen) break
        for (let i = 0; i < BEFORE_BATCH; i++) {
          const round = {} as (typeof beforeRounds)[number]
          for (const mode of balancedOrder(['pixstore', 'before'] as const, beforeRounds.length)) {
            round[mode] = reloadsOpen ? await visitAndReload(mode, async () => ({})) : { first: await firstVisit(mode) }
          }
          beforeRounds.push(round)
        }
        firstVisits += BEFORE_BATCH
        if (reloadsOpen) reloads += BEFORE_BATCH
        process.stdout.write('.')
      }
    }
    // The worker thread's CPU on first visits, traced apart from the timed rounds (tracing slows what it watches).
    for (let round = 0; round < TRACED_VISITS; round++) {
      for (const mode of balancedOrder(workerModes, round)) workerCpu[mode].push(await tracedFirstVisit(mode))
    }
    process.stdout.write('.')
  } finally {
    await browser.close()
    await site.close()
  }

  /** Per-round pairs of `mode` against `versus` (the row's two columns). */
  const pairsOf = (pick: (r: ModeRound) => number, mode: Mode = 'pixstore', versus: Mode = 'plain'): Pair[] => rounds.map((r) => ({ pixstore: pick(r[mode]), plain: pick(r[versus]) }))
  const metric = (pick: (r: ModeRound) => number, mode: Mode = 'pixstore', versus: Mode = 'plain') => summarize(pairsOf(pick, mode, versus))
  const n = `${count} x ${setup.imageSize}`
  const rows: Row[] = [
    {
      key: '4a',
      label: `first visit: navigation to ${n} loaded`,
      unit: 'ms',
      ...metric((r) => r.first.timing.done),
      better: 'lower',
      target: { atMost: 1.3 },
      explain: `Fresh browser profile, backend on another origin with the default config. From navigation start to the last image's load event. Each page's script is one minified bundle (Pixstore's with the page module inside) served as apps serve bundles (content-hashed name, immutable caching). Pixstore includes its page module's share of that bundle, registering and activating the worker, setImageRecords; then every image is fetched (proof in the query: no preflight), decrypted with WebCrypto, answered, and stored in Cache Storage afterwards.`,
    },
    {
      key: '4b',
      label: `first visit: ${n}, images only`,
      unit: 'ms',
      ...metric((r) => imagesOnly(r.first)),
      better: 'lower',
      explain: 'Same visit, from inserting the <img> tags to the last load event: the decrypt path of a worker that was just installed, against plain image downloads.',
    },
    {
      key: '4c',
      label: `empty cache: ${n}, images only`,
      unit: 'ms',
      ...metric((r) => imagesOnly(r.returning)),
      better: 'lower',
      explain: "Reload after emptying the caches (Pixstore: clearImageCache(), worker stays installed; both: the browser's HTTP and memory caches cleared over CDP): the steady-state decrypt path.",
    },
    {
      key: '4d',
      label: `warm reload: ${n}, images only`,
      unit: 'ms',
      ...metric((r) => imagesOnly(r.warm)),
      better: 'lower',
      target: { atMost: 1.1 },
      explain: "Reload 1 s after the first visit finished (the same pause for both, as a person reloads a settled page): the browser reuses its in-memory copies (the worker answers with a short private max-age; plain images are served with max-age=3600); what misses there, the worker answers from its recent images (else Cache Storage).",
    },
    {
      key: '4e',
      label: `warm reload: navigation to ${n} loaded`,
      unit: 'ms',
      ...metric((r) => r.warm.timing.done),
      better: 'lower',
      target: { atMost: 1.3 },
      explain: 'The same warm reload from navigation start (both bundles from the browser cache): Pixstore adds its page module code, initPixstoreFrontend (already controlled by its worker: one hello round trip) and the setImageRecords round trip.',
    },
  ]
  const optionsRequests = (v: Visit) => Object.entries(v.requests).reduce((sum, [key, count]) => sum + (key.startsWith('OPTIONS ') ? count : 0), 0)
  rows.push({
    key: '4f',
    label: `first visit + empty cache: OPTIONS requests`,
    unit: 'requests',
    ...metric((r) => optionsRequests(r.first) + optionsRequests(r.returning)),
    better: 'lower',
    digits: 0,
    explain: 'CORS preflights that reached the image servers in the two visits that fetch images (the target is zero: a preflight is a round trip per image URL).',
  })
  rows.push(
    {
      key: '4g',
      label: `first visit: ${n}, images only`,
      unit: 'ms',
      ...metric((r) => imagesOnly(r.first), 'pixstore', 'worker'),
      versus: 'bare worker',
      better: 'lower',
      explain:
        "Row 4b against a bare service worker instead of plain <img>: the plain images through a worker that only fetches each one, waits for the whole body (as AES-GCM must) and answers. What is left is Pixstore's own work: records, proof, decryption, its cache.",
    },
    {
      key: '4h',
      label: `first visit: navigation to ${n} loaded`,
      unit: 'ms',
      ...metric((r) => r.first.timing.done, 'pixstore', 'worker'),
      versus: 'bare worker',
      better: 'lower',
      explain: 'Row 4a against the bare service worker (registered, activated and in control before its images are inserted, as Pixstore is).',
    },
    {
      key: '4i',
      label: `warm reload: navigation to ${n} loaded`,
      unit: 'ms',
      ...metric((r) => r.warm.timing.done, 'pixstore', 'worker'),
      versus: 'bare worker',
      better: 'lower',
      explain: "Row 4e against the bare service worker, whose controlled page pays the same for having a worker but has no page module, records or init.",
    },
  )
  /** Traced visits are not paired with the timed rounds: each trace round pairs the two modes it ran. */
  const cpuRow = (key: string, versus: Mode, explain: string): Row => {
    const pairs = workerCpu.pixstore.map((cpu, i) => ({ pixstore: cpu, plain: workerCpu[versus][i]! }))
    return { key, label: `first visit: worker thread CPU for ${n}`, unit: 'ms', ...summarize(pairs), versus: MODE_NAMES[versus], better: 'lower', explain }
  }
  const notesBefore: string[] = []
  if (setup.beforeDist) {
    const firstImages = againstBefore(imagesOnly, 'first')
    const firstLoaded = againstBefore(loaded, 'first')
    const warm = againstBefore(loaded, 'warm')
    const judged = (pairs: Pair[]) => ({ ...summarize(pairs), versus: 'Pixstore before', better: 'lower', target: { atMost: BEFORE_TARGET } }) as const
    notesBefore.push(
      `Rows 4j-4l: rounds against the earlier build were added ${BEFORE_BATCH} at a time until each row's ${VERDICT_LEVEL * 100}% interval (paired bootstrap of the ratio of medians) lay wholly on one side of ${BEFORE_TARGET}x, at most ${BEFORE_MAX_FIRST_VISITS} first-visit and ${BEFORE_MAX_RELOADS} reload rounds: ${beforeRounds.length} extra pairs of first visits, ${beforeRounds.filter((r) => r.pixstore.warm).length} of them with their reloads. "undecided" means this run cannot tell the ratio from the target.`,
    )
    rows.push(
      {
        key: '4j',
        label: `first visit: ${n}, images only`,
        unit: 'ms',
        ...judged(firstImages),
        explain: `Row 4b against the same page with the page module and worker of ${setup.beforeDist} (PIXSTORE_BENCH_BEFORE_DIST), served by the same backend in the same run: the timed rounds' first visits and the extra ones of these two pages alone (${firstImages.length} pairs).`,
      },
      { key: '4k', label: `first visit: navigation to ${n} loaded`, unit: 'ms', ...judged(firstLoaded), explain: `Row 4a against the earlier build, from the same ${firstLoaded.length} pairs as 4j.` },
      { key: '4l', label: `warm reload: navigation to ${n} loaded`, unit: 'ms', ...judged(warm), explain: `Row 4e against the earlier build: the timed rounds' reloads and the extra ones (${warm.length} pairs).` },
    )
  }
  rows.push(
    cpuRow(
      '4m',
      'worker',
      `CPU time of the service worker thread's tasks during a first visit (fresh profile, from navigation until a second after the last image loaded, so the worker's writes to Cache Storage count), from a Chromium trace (toplevel tasks' thread time); medians of ${TRACED_VISITS} traced visits per page, in balanced order, run after the timed rounds. What records, decryption and caching cost the worker beyond fetching and answering, without the swings of page-load times.`,
    ),
  )
  if (setup.beforeDist) rows.push(cpuRow('4n', 'before', `Row 4m against the earlier build's worker: whether the worker does more for these images than before. It swings between runs too (0.99-1.12x over four runs of the same code).`))
  const describe = (requests: Record<string, number>) =>
    Object.entries(requests)
      .map(([key, value]) => `${value} ${key}`)
      .join(', ') || 'none'
  const last = rounds.at(-1)!
  const ms = (pick: (r: Record<Mode, ModeRound>) => number, digits = 0) => {
    const value = median(rounds.map(pick).filter(Number.isFinite))
    return Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
  }
  const worker = (pick: (r: ModeRound) => number) => {
    const { pixstore: bare, plain } = metric(pick, 'worker', 'plain')
    return `${bare.toFixed(0)} vs ${plain.toFixed(0)} ms (${(bare / plain).toFixed(2)}x)`
  }
  const notes = [
    ...notesBefore,
    `The bare service worker against plain <img> (what interception alone costs): first visit, images only ${worker((r) => imagesOnly(r.first))}; navigation to loaded ${worker((r) => r.first.timing.done)}; warm reload, navigation to loaded ${worker((r) => r.warm.timing.done)}; empty cache, images only ${worker((r) => imagesOnly(r.returning))}.`,
    `Requests reaching the image servers in the last round: Pixstore first visit: ${describe(last.pixstore.first.requests)}; warm reload: ${describe(last.pixstore.warm.requests)}; empty-cache reload: ${describe(last.pixstore.returning.requests)}. Plain first visit: ${describe(last.plain.first.requests)}; warm reload: ${describe(last.plain.warm.requests)}; empty-cache reload: ${describe(last.plain.returning.requests)}.`,
    `Pixstore page controlled by the worker at start: first visit ${last.pixstore.first.timing.controlledAtStart}, warm reload ${last.pixstore.warm.timing.controlledAtStart}.`,
    `Where the Pixstore page's time goes before the first <img> (medians, ms since navigation; page script starts at ${ms((r) => r.plain.first.timing.scriptStart)} first visit / ${ms((r) => r.plain.warm.timing.scriptStart)} warm for plain, ${ms((r) => r.worker.first.timing.scriptStart)} / ${ms((r) => r.worker.warm.timing.scriptStart)} for the bare worker): first visit: script ${ms((r) => r.pixstore.first.timing.scriptStart)}, initPixstoreFrontend done ${ms((r) => r.pixstore.first.timing.initDone)}, setImageRecords done ${ms((r) => r.pixstore.first.timing.ready)}; warm reload: ${ms((r) => r.pixstore.warm.timing.scriptStart)} / ${ms((r) => r.pixstore.warm.timing.initDone)} / ${ms((r) => r.pixstore.warm.timing.ready)}.`,
    `Before the script runs (medians, ms since navigation: HTML first byte / HTML last byte / bundle last byte): ${(['first', 'warm'] as const)
      .map((visit) => `${visit === 'first' ? 'first visit' : 'warm reload'}: ${modes.map((mode) => `${MODE_NAMES[mode]} ${ms((r) => r[mode][visit].timing.htmlStart, 1)} / ${ms((r) => r[mode][visit].timing.htmlEnd, 1)} / ${ms((r) => r[mode][visit].timing.bundleEnd, 1)}`).join(', ')}`)
      .join('; ')}. On a warm reload the plain page's bundle comes from the renderer's memory cache at once; on a page a worker controls (Pixstore, with its static route to the network, and the bare worker) the same cached bundle shows a workerStart in its Resource Timing and arrives a few ms after its request starts.`,
    `Per image (Resource Timing, medians; request start -> first response byte / response body): ${(['first', 'returning', 'warm'] as const)
      .map((visit) => `${visit === 'returning' ? 'empty cache' : visit === 'warm' ? 'warm reload' : 'first visit'}: Pixstore ${ms((r) => r.pixstore[visit].timing.waitMs, 1)} / ${ms((r) => r.pixstore[visit].timing.bodyMs, 1)}, plain ${ms((r) => r.plain[visit].timing.waitMs, 1)} / ${ms((r) => r.plain[visit].timing.bodyMs, 1)}`)
      .join('; ')} ms.`,
  ]
  return { rows, notes }
}
