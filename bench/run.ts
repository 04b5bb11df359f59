// Pixstore bench: `npm run bench`. Every number is printed next to a real
// baseline measured in the same run: Pixstore 3.2.1 (npm `pixstore`, the system
// we replace), nginx serving the same bytes (the limit), plain Koa, plain
// writes and plain <img> tags. Loopback only, bounded, medians of rounds in balanced order.
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PixstoreBackend, type ImageRecord } from '../server/index'
import type { SqliteImageStore } from '../server/stores/sqliteStore'
import { benchBrowser, browserUnavailable } from './browserLoad'
import { benchPaced, type LargeImage } from './pacedLoad'
import { LARGE_JPEG, makeJpeg } from '../testing/jpegImages'
import { benchEndpoint, type SizeCase, type Target } from './endpointCost'
import { formatBytes, makePng } from '../testing/images'
import { Nginx, nginxUnavailable } from '../testing/nginx'
import { processCpuMicros } from './processCpu'
import { printReport, type Row } from './report'
import { benchSave } from './saveCost'
import { ServerProcess, type StartMessage, type StaticFile } from './serverProcess'
import { ServeCommand } from './serveCommand'
import { benchSlowReaders } from './slowReaders'
import { elapsedMs } from './stats'
import { wrkAvailable } from './wrk'

/**
 * Every section of a full run takes about 21 minutes on 2 cores (the paced
 * page alone about 11). Rows that add rounds until they are decided (the
 * paced first pixels; with PIXSTORE_BENCH_BEFORE_DIST, rows 4j-4l) may add
 * up to 13 more.
 */
const TIME_BUDGET_MS = 40 * 60_000
const ROUNDS = 5
/** Page loads take tens of ms, so a few ms of noise swing one round's ratio: more rounds, still about a minute. */
const BROWSER_ROUNDS = 15
const GALLERY_SIZE = 24
/** Each paced load takes ~7 s per page; first pixels (~0.1 s) swing with the machine: five rounds. */
const PACED_ROUNDS = 5
const PACED_MEMORY_IMAGES = 10
const PROOF_WINDOW_MS = 30 * 60_000
const SLOW_READERS = 64
/** `npm run bench -- browser endpoint` (through bench/run.sh): only those sections; all by default. */
const SECTIONS = ['save', 'endpoint', 'memory', 'browser', 'paced'] as const
const only = process.argv.slice(2)
for (const name of only) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`bench: unknown section "${name}"; sections: ${SECTIONS.join(', ')}`)
const runs = (section: (typeof SECTIONS)[number]) => only.length === 0 || only.includes(section)

const started = process.hrtime.bigint()
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pixstore-bench-'))
const watchdog = setTimeout(() => {
  console.error(`\nbench: over the ${TIME_BUDGET_MS / 1000} s budget, giving up`)
  rmSync(tmp, { recursive: true, force: true })
  process.exit(2) // server processes are killed on exit (serverProcess.ts)
}, TIME_BUDGET_MS)
watchdog.unref()

let current: { name: string; start: bigint } | null = null
/** Progress: one line per section, ending with how long it took. */
function section(name: string | null): void {
  if (current) process.stdout.write(` ${(elapsedMs(current.start) / 1000).toFixed(1)} s\n`)
  current = name === null ? null : { name, start: process.hrtime.bigint() }
  if (name !== null) process.stdout.write(`${name} `)
}

/** One Success answer, fetched once: its exact length, and proof that the server answers Success. */
async function successLength(url: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, { headers })
  const bytes = new Uint8Array(await response.arrayBuffer())
  if (response.status !== 200 || bytes[0] !== 0) throw new Error(`${url}: expected a Success answer, got HTTP ${response.status}, first byte ${bytes[0]}`)
  return bytes.length
}

const credentials = (record: { statelessProof: string; token: number }) => ({ 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': String(record.token) })
/** What the worker sends: the proof and token, and that it reads chunked answers. */
const chunkedHeaders = (record: { statelessProof: string; token: number }) => ({ ...credentials(record), 'x-pixstore-chunked': '1' })

/** The exact length of one answer (chunked or Success), fetched once. */
async function answerLength(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers })
  const bytes = new Uint8Array(await response.arrayBuffer())
  if (response.status !== 200 || (bytes[0] !== 0 && bytes[0] !== 7)) throw new Error(`${url}: expected Success or ChunkedSuccess, got HTTP ${response.status}, first byte ${bytes[0]}`)
  return bytes.length
}

async function main(): Promise<void> {
  const secret = randomBytes(32).toString('hex')
  const servers: ServerProcess[] = []
  let nginx: Nginx | null = null
  const rows: Row[] = []
  const notes: string[] = []
  try {
    const sizes = [
      { name: '100 KB', bytes: makePng(100 * 1024, 1), seconds: 2 },
      { name: '1 MB', bytes: makePng(1024 * 1024, 2), seconds: 2 },
      { name: '10 MB', bytes: makePng(10 * 1024 * 1024, 3), seconds: 3 },
    ]
    const gallery = Array.from({ length: GALLERY_SIZE }, (_, i) => makePng(100 * 1024, 100 + i))
    console.log(`Pixstore bench: node ${process.version}, ${os.cpus().length} CPUs, ${ROUNDS} measured rounds per row (${BROWSER_ROUNDS} for page loads; medians), loopback only`)
    console.log(`load generator: ${wrkAvailable() ? 'wrk' : 'the Node load generator (install Debian package `wrk` for the real one)'}; nginx: ${nginxUnavailable() ?? 'installed'}`)

    if (runs('save')) {
      section('3. save cost')
      const saveCases = [
        { name: '100 KB', bytes: sizes[0]!.bytes, savesPerRound: 40 },
        { name: '1 MB', bytes: sizes[1]!.bytes, savesPerRound: 16 },
      ]
      rows.push(...(await benchSave(path.join(tmp, 'save'), secret, saveCases, { rounds: ROUNDS, warmup: 4 })))
    }

    // The store the servers serve: saved once here, then opened by the server processes.
    const store = { imageRootDir: path.join(tmp, 'store', 'images'), databasePath: path.join(tmp, 'store', 'pixstore.sqlite') }
    const backend = new PixstoreBackend({ defaultEndpointEnabled: false, statelessProofSecret: secret, statelessKeyWindowLength: PROOF_WINDOW_MS, ...store })
    const staticDir = path.join(tmp, 'static')
    mkdirSync(staticDir)
    /** Saves an image; also writes its Success wire payload as a static file, so baselines serve the very same bytes. */
    const save = async (bytes: Buffer, name: string): Promise<{ record: ImageRecord; wireFile: string }> => {
      const record = await backend.saveImage(bytes)
      if (!record) throw new Error(`saveImage failed: ${backend.lastError?.message}`)
      const row = (await (backend.store as SqliteImageStore).get(record.id))!
      const wireFile = path.join(staticDir, name)
      writeFileSync(wireFile, Buffer.concat([Buffer.of(0), readFileSync(path.join(store.imageRootDir, row.file))]))
      return { record, wireFile }
    }
    const saved = []
    for (const [i, size] of sizes.entries()) saved.push(await save(size.bytes, `size-${i}.wire`))
    const savedGallery: ImageRecord[] = []
    for (const bytes of gallery) savedGallery.push((await save(bytes, `gallery-${savedGallery.length}.wire`)).record)
    // The paced-network page (issue 17): a progressive and a baseline 8 MB-class JPEG, and ten large images for the worker's memory.
    const largeFiles: Record<string, StaticFile> = {}
    const largeImages: LargeImage[] = []
    /** First pixels alone: a 2000x1333 baseline JPEG, whose first row needs more than a few KiB (why Pixstore's first record is 16 KiB). */
    const firstPixelsImages: LargeImage[] = []
    const memoryRecords: ImageRecord[] = []
    if (runs('paced') && !browserUnavailable()) {
      for (const progressive of [true, false]) {
        const name = progressive ? 'progressive' : 'baseline'
        const jpeg = makeJpeg({ ...LARGE_JPEG, progressive })
        const file = path.join(tmp, `large-${name}.jpg`)
        writeFileSync(file, jpeg)
        largeFiles[`/large/${name}.jpg`] = { path: file, contentType: 'image/jpeg', cacheControl: 'no-store' }
        largeImages.push({ name, record: (await save(jpeg, `large-${name}.wire`)).record, plainPath: `/large/${name}.jpg`, bytes: jpeg.length })
        if (progressive) for (let i = 0; i < PACED_MEMORY_IMAGES; i++) memoryRecords.push((await save(jpeg, `large-memory-${i}.wire`)).record)
      }
      const photo = makeJpeg({ ...LARGE_JPEG, width: 2000, height: 1333, progressive: false })
      const photoFile = path.join(tmp, 'photo-baseline.jpg')
      writeFileSync(photoFile, photo)
      largeFiles['/large/photo-baseline.jpg'] = { path: photoFile, contentType: 'image/jpeg', cacheControl: 'no-store' }
      firstPixelsImages.push({ name: 'baseline 2000x1333', record: (await save(photo, 'photo-baseline.wire')).record, plainPath: '/large/photo-baseline.jpg', bytes: photo.length })
    }
    await backend.close()

    const sourceFiles = sizes.map((size, i) => {
      const file = path.join(tmp, `size-${i}.png`)
      writeFileSync(file, size.bytes)
      return file
    })
    const files: Record<string, StaticFile> = {
      ...Object.fromEntries(saved.map((s, i) => [`/wire/${i}`, { path: s.wireFile, contentType: 'application/octet-stream', cacheControl: 'no-store' }])),
      ...largeFiles,
    }
    const plainPaths = gallery.map((bytes, i) => {
      const file = path.join(tmp, `gallery-${i}.png`)
      writeFileSync(file, bytes)
      files[`/img/${i}.png`] = { path: file, contentType: 'image/png', cacheControl: 'public, max-age=3600' }
      return `/img/${i}.png`
    })
    const start = async (label: string, message: StartMessage) => servers[servers.push(await ServerProcess.start(label, message)) - 1]!
    const pixstoreStart: StartMessage = { mode: 'pixstore', secret, windowMs: PROOF_WINDOW_MS, ...store }
    const v3Start = (images: string[], dir: string): StartMessage => ({ mode: 'pixstore-v3', dir: path.join(tmp, dir), images, windowMs: PROOF_WINDOW_MS })

    const pixstore = await start('pixstore', pixstoreStart)
    const plain = await start('plain', { mode: 'plain', files })
    const cases: SizeCase[] = []
    if (runs('endpoint') || runs('memory')) {
      if (runs('endpoint')) section('1. endpoint vs Pixstore 3.2.1, nginx, plain Koa')
      const v3 = await start('pixstore-v3', v3Start(sourceFiles, 'v3'))
      const workers = runs('endpoint') ? await ServeCommand.start({ workers: 'auto', secret, windowMs: PROOF_WINDOW_MS, ...store }) : null
      nginx = nginxUnavailable() ? null : await Nginx.staticFiles(Object.fromEntries(saved.map((s, i) => [`/wire/${i}`, s.wireFile])))
      if (!nginx) notes.push(`nginx rows skipped: ${nginxUnavailable()}.`)
      const cpuOf = (server: ServerProcess) => async () => (await server.sample()).cpuMicros
      for (const [i, size] of sizes.entries()) {
        const pixstoreUrl = `${pixstore.origin}/pixstore-image/${saved[i]!.record.id}`
        const v3Url = `${v3.origin}/pixstore-image/${v3.records[i]!.id}`
        const wireBytes = await successLength(pixstoreUrl, credentials(saved[i]!.record))
        const target = (name: string, url: string, cpuMicros: Target['cpuMicros'], headers?: Record<string, string>, expectBytes = wireBytes): Target => ({ name, url, headers, expectBytes, cpuMicros })
        cases.push({
          name: size.name,
          seconds: size.seconds,
          pixstore: target('pixstore', pixstoreUrl, cpuOf(pixstore), credentials(saved[i]!.record)),
          pixstoreWorkers: workers && target('pixstore --workers', `${workers.origin}/pixstore-image/${saved[i]!.record.id}`, async () => processCpuMicros(workers.pids()), credentials(saved[i]!.record)),
          pixstoreV3: target('pixstore 3.2.1', v3Url, cpuOf(v3), credentials(v3.records[i]!), await successLength(v3Url, credentials(v3.records[i]!))),
          pixstoreChunked: target('pixstore chunked', pixstoreUrl, cpuOf(pixstore), chunkedHeaders(saved[i]!.record), await answerLength(pixstoreUrl, chunkedHeaders(saved[i]!.record))),
          nginx: nginx && target('nginx', `${nginx.url}/wire/${i}`, async () => processCpuMicros(nginx!.pids())),
          plainKoa: target('plain Koa', `${plain.origin}/wire/${i}`, cpuOf(plain)),
        })
      }
      if (runs('endpoint')) rows.push(...(await benchEndpoint(cases, { rounds: ROUNDS, keyBase: 1 })))
      await v3.close()
      await workers?.close()
    }

    if (runs('memory')) {
      section(`2. memory: ${SLOW_READERS} slow readers of 10 MB`)
      const huge = saved[2]!
      const slow = await benchSlowReaders(
        {
          name: '10 MB',
          clients: SLOW_READERS,
          pixstore: {
            start: () => start('pixstore', pixstoreStart),
            spec: (server) => ({ url: `${server.origin}/pixstore-image/${huge.record.id}`, headers: credentials(huge.record), clients: SLOW_READERS, expectBytes: cases[2]!.pixstore.expectBytes, pauseMs: 5 }),
          },
          pixstoreV3: {
            start: () => start('pixstore-v3', v3Start([sourceFiles[2]!], `v3-memory-${randomBytes(4).toString('hex')}`)),
            spec: (server) => ({ url: `${server.origin}/pixstore-image/${server.records[0]!.id}`, headers: credentials(server.records[0]!), clients: SLOW_READERS, expectBytes: cases[2]!.pixstoreV3!.expectBytes, pauseMs: 5 }),
          },
        },
        { rounds: 3, keyBase: 2 },
      )
      rows.push(...slow.rows)
      notes.push(...slow.notes)
    }

    const unavailable = browserUnavailable()
    if ((runs('browser') || runs('paced')) && unavailable) {
      notes.push(`Browser sections skipped: ${unavailable} (run \`npm run build\`; Chromium at /usr/bin/chromium).`)
    } else {
      if (runs('browser')) {
        section('4. browser')
        try {
          const browser = await benchBrowser({ pixstore, plain, records: savedGallery, plainPaths, imageSize: formatBytes(gallery[0]!.length), rounds: BROWSER_ROUNDS, beforeDist: process.env.PIXSTORE_BENCH_BEFORE_DIST })
          rows.push(...browser.rows)
          notes.push(...browser.notes)
        } catch (error) {
          notes.push(`Browser section failed: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
      if (runs('paced')) {
        section('4. browser, paced network')
        try {
          const paced = await benchPaced({ pixstore, plain, images: largeImages, firstPixelsImages, memoryRecords, rounds: PACED_ROUNDS, beforeDist: process.env.PIXSTORE_BENCH_BEFORE_DIST })
          rows.push(...paced.rows)
          notes.push(...paced.notes)
        } catch (error) {
          notes.push(`Paced browser section failed: ${error instanceof Error ? error.stack : String(error)}`)
        }
      }
    }

    section(null)
    printReport(
      'Results (median of rounds; "round range" = min-max of the per-round pixstore/baseline ratios):',
      [
        `images: real PNGs of seeded noise, ${sizes.map((size) => formatBytes(size.bytes.length)).join(', ')}; browser gallery ${GALLERY_SIZE} x ${formatBytes(gallery[0]!.length)}.`,
        'Node servers run in child processes (node + tsx); nginx and wrk are separate processes; all on this machine, over 127.0.0.1.',
      ],
      rows,
      notes,
    )
  } finally {
    await nginx?.stop()
    await Promise.all(servers.map((server) => server.close()))
    rmSync(tmp, { recursive: true, force: true })
    console.log(`\nbench finished in ${(elapsedMs(started) / 1000).toFixed(1)} s`)
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error('\nbench failed:', error)
    process.exit(1)
  },
)
