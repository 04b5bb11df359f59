// Pixstore deployment bench (part of `npm run bench`, after bench/run.ts):
// several instances on PostgreSQL behind nginx against one instance, and the
// PostgreSQL store's read cost against the SQLite store. Real servers, each
// side measured in the same run; bounded to about a minute.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startDeployment, type Deployment } from '../testing/deployment'
import { formatBytes, makePng } from '../testing/images'
import { printReport } from './report'
import { benchScaleOut } from './scaleOut'
import { elapsedMs } from './stats'
import { benchStoreReads } from './storeReadCost'

const TIME_BUDGET_MS = 120_000
const ROUNDS = 3

const started = process.hrtime.bigint()
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pixstore-bench-deploy-'))
const watchdog = setTimeout(() => {
  console.error(`\nbench: over the ${TIME_BUDGET_MS / 1000} s budget, giving up`)
  process.exit(2) // clusters, nginx and instances are removed by their exit handlers
}, TIME_BUDGET_MS)
watchdog.unref()

async function main(): Promise<void> {
  let deployment: Deployment | null = null
  try {
    console.log(`\nPixstore deployment bench: node ${process.version}, ${os.cpus().length} CPUs, ${ROUNDS} rounds per row (medians), loopback only`)
    process.stdout.write('5. scale-out (PostgreSQL + 2 instances + nginx) ')
    let section = process.hrtime.bigint()
    deployment = await startDeployment(2)
    const image = makePng(100 * 1024, 7)
    const scale = await benchScaleOut(deployment, image, formatBytes(image.length), { rounds: ROUNDS, concurrency: 32, requests: 800, warmup: 200 })
    process.stdout.write(` ${(elapsedMs(section) / 1000).toFixed(1)} s\n6. store read cost `)
    section = process.hrtime.bigint()
    const secret = randomBytes(32).toString('hex')
    const reads = await benchStoreReads(
      { databaseUrl: await deployment.cluster.createDatabase() },
      { databasePath: path.join(tmp, 'pixstore.sqlite'), imageRootDir: path.join(tmp, 'images') },
      secret,
      [
        { label: '100 KB', bytes: makePng(100 * 1024, 8), reads: 600 },
        { label: '1 MB', bytes: makePng(1024 * 1024, 9), reads: 80 },
      ],
      { rounds: ROUNDS, concurrencies: [1, 16] },
    )
    process.stdout.write(` ${(elapsedMs(section) / 1000).toFixed(1)} s\n`)
    const cpus = os.cpus().length
    printReport(
      'Scale-out (left = 2 instances behind nginx, or 1 behind nginx; right = 1 instance answered directly):',
      [`load generator, nginx (1 worker), PostgreSQL and the instances all share these ${cpus} CPUs.`],
      scale,
      cpus <= 2
        ? [
            `On ${cpus} cores a second instance has no core of its own: the load generator, nginx, PostgreSQL and the instances compete for the same CPUs, so 2 instances cannot beat 1 here and the extra proxy hop shows as a loss. Scale-out pays when the instances run on their own machines (or cores), with PostgreSQL and nginx elsewhere.`,
          ]
        : [],
      ['scaled', '1 direct'],
    )
    printReport(
      'Store read cost (left = PostgreSQL store, right = SQLite + files store, same images):',
      ['each row reads the same image over and over through ImageStore.read, in this process.'],
      reads,
      ['PostgreSQL answers over TCP from another process and sends bytea as hex (twice the bytes, decoded by pg); SQLite reads a row in-process and the ciphertext from the page cache.'],
      ['postgres', 'sqlite'],
    )
  } finally {
    await deployment?.stop()
    rmSync(tmp, { recursive: true, force: true })
    console.log(`\ndeployment bench finished in ${(elapsedMs(started) / 1000).toFixed(1)} s`)
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error('\ndeployment bench failed:', error)
    process.exit(1)
  },
)
