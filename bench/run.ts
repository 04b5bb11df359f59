// Pixstore bench: `npm run bench`. Every number is printed next to a plain
// baseline measured in the same run. Loopback only, bounded request counts,
// the whole run under 3 minutes (a watchdog ends it otherwise).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PixstoreBackend, type ImageRecord } from '../server/index'
import type { SqliteImageStore } from '../server/stores/sqliteStore'
import { benchBrowser, browserUnavailable } from './browserLoad'
import { formatBytes, makePng } from './images'
import { printReport, type Row } from './report'
import { benchSave } from './saveCost'
import { benchMemory } from './serverMemory'
import { ServerProcess, type StartMessage, type StaticFile } from './serverProcess'
import { benchThroughput, type ThroughputCase } from './serverThroughput'
import { elapsedMs } from './stats'

// `npm run bench` also builds first (~10-20 s), so the run itself gets a little less than 3 minutes.
const TIME_BUDGET_MS = 155_000
const ROUNDS = 5
const CONCURRENCY = 16
const GALLERY_SIZE = 24
const PROOF_WINDOW_MS = 10 * 60_000

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

async function main(): Promise<void> {
  const secret = randomBytes(32).toString('hex')
  const servers: ServerProcess[] = []
  const rows: Record<'throughput' | 'memory' | 'save' | 'browser', Row[]> = { throughput: [], memory: [], save: [], browser: [] }
  const notes: string[] = []
  try {
    const small = makePng(100 * 1024, 1)
    const large = makePng(1024 * 1024, 2)
    const gallery = Array.from({ length: GALLERY_SIZE }, (_, i) => makePng(100 * 1024, 100 + i))
    console.log(`Pixstore bench: node ${process.version}, ${os.cpus().length} CPUs, ${ROUNDS} measured rounds per row (medians), loopback only`)

    section('3. save cost')
    rows.save = await benchSave(path.join(tmp, 'save'), secret, [
      { name: '100 KB', bytes: small, savesPerRound: 40 },
      { name: '1 MB', bytes: large, savesPerRound: 16 },
    ], { rounds: ROUNDS, warmup: 4 })

    // The store the servers serve: saved once here, then opened by the server processes.
    const store = { imageRootDir: path.join(tmp, 'store', 'images'), databasePath: path.join(tmp, 'store', 'pixstore.sqlite') }
    const backend = new PixstoreBackend({ defaultEndpointEnabled: false, statelessProofSecret: secret, statelessKeyWindowLength: PROOF_WINDOW_MS, ...store })
    const save = async (bytes: Buffer): Promise<{ record: ImageRecord; file: string }> => {
      const record = await backend.saveImage(bytes)
      if (!record) throw new Error(`saveImage failed: ${backend.lastError?.message}`)
      return { record, file: path.join(store.imageRootDir, (await (backend.store as SqliteImageStore).get(record.id))!.file) }
    }
    const savedSmall = await save(small)
    const savedLarge = await save(large)
    const savedGallery: { record: ImageRecord; file: string }[] = []
    for (const bytes of gallery) savedGallery.push(await save(bytes))
    await backend.close()

    const files: Record<string, StaticFile> = {
      '/cipher/small': { path: savedSmall.file, contentType: 'application/octet-stream', cacheControl: 'no-store' },
      '/cipher/large': { path: savedLarge.file, contentType: 'application/octet-stream', cacheControl: 'no-store' },
    }
    const plainPaths = gallery.map((bytes, i) => {
      const file = path.join(tmp, `gallery-${i}.png`)
      writeFileSync(file, bytes)
      files[`/img/${i}.png`] = { path: file, contentType: 'image/png', cacheControl: 'public, max-age=3600' }
      return `/img/${i}.png`
    })
    const pixstoreStart: StartMessage = { mode: 'pixstore', secret, windowMs: PROOF_WINDOW_MS, ...store }
    const plainStart: StartMessage = { mode: 'plain', files }
    const startPixstore = async () => servers[servers.push(await ServerProcess.start('pixstore', pixstoreStart)) - 1]!
    const startPlain = async () => servers[servers.push(await ServerProcess.start('plain', plainStart)) - 1]!

    const throughputCase = (name: string, saved: { record: ImageRecord; file: string }, plainPath: string, requests: number, warmup: number): ThroughputCase => {
      const ciphertextBytes = statSync(saved.file).size
      return {
        name,
        pixstorePath: `/pixstore-image/${saved.record.id}`,
        headers: { 'x-pixstore-proof': saved.record.statelessProof, 'x-pixstore-token': String(saved.record.token) },
        plainPath,
        wireBytes: ciphertextBytes + 1,
        ciphertextBytes,
        requests,
        warmup,
      }
    }
    const cases = [throughputCase('100 KB', savedSmall, '/cipher/small', 1500, 400), throughputCase('1 MB', savedLarge, '/cipher/large', 300, 80)]

    section('1. server throughput')
    const pixstore = await startPixstore()
    const plain = await startPlain()
    rows.throughput = await benchThroughput(pixstore, plain, cases, { rounds: ROUNDS, concurrency: CONCURRENCY })

    section('2. server memory')
    const large1 = cases[1]!
    const memoryRequests = 400
    rows.memory = await benchMemory(
      {
        name: '1 MB',
        startPixstore,
        startPlain,
        pixstoreSpec: (server) => ({ url: `${server.origin}${large1.pixstorePath}`, headers: large1.headers, requests: memoryRequests, concurrency: CONCURRENCY, expectBytes: large1.wireBytes, expectFirstByte: 0 }),
        plainSpec: (server) => ({ url: `${server.origin}${large1.plainPath}`, requests: memoryRequests, concurrency: CONCURRENCY, expectBytes: large1.ciphertextBytes }),
      },
      { rounds: 3, requests: memoryRequests },
    )

    section('4. browser')
    const unavailable = browserUnavailable()
    if (unavailable) {
      notes.push(`Browser section skipped: ${unavailable} (run \`npm run build\`; Chromium at /usr/bin/chromium).`)
    } else {
      try {
        const browser = await benchBrowser({
          pixstore,
          plain,
          records: savedGallery.map((s) => s.record),
          plainPaths,
          imageSize: formatBytes(gallery[0]!.length),
          rounds: ROUNDS,
        })
        rows.browser = browser.rows
        notes.push(...browser.notes)
      } catch (error) {
        notes.push(`Browser section failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    }

    section(null)
    printReport(
      'Results (median of rounds; "round range" = min-max of the per-round pixstore/plain ratios):',
      [
        `images: real PNGs of seeded noise, ${formatBytes(small.length)} and ${formatBytes(large.length)}; browser gallery ${GALLERY_SIZE} x ${formatBytes(gallery[0]!.length)}.`,
        `servers run in child processes (node + tsx), load generated from the parent over 127.0.0.1 keep-alive, concurrency ${CONCURRENCY}.`,
      ],
      [...rows.throughput, ...rows.memory, ...rows.save, ...rows.browser],
      notes,
    )
  } finally {
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
