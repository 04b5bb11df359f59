// Section 1: the image endpoint under load (wrk, 32 connections) against real
// baselines in the same run: Pixstore 3.2.1 (the system we replace), nginx
// serving the same bytes as a static file (the limit), and a plain Koa server
// reading the same file (the framework alone). Rounds run in balanced order (stats.ts).
import os from 'node:os'
import { runLoad } from './loadGenerator'
import type { Row } from './report'
import { balancedOrder, summarize } from './stats'
import { runWrk, wrkAvailable, type WrkResult } from './wrk'

export interface Target {
  name: string
  url: string
  headers?: Record<string, string>
  /** Exact answer length (wire payload or file). */
  expectBytes: number
  /** Process CPU so far in microseconds; null when not measured. */
  cpuMicros: (() => Promise<number>) | null
}

export interface SizeCase {
  name: string
  pixstore: Target
  /** `pixstore serve --workers auto`: every core, as nginx uses them. */
  pixstoreWorkers: Target | null
  pixstoreV3: Target | null
  /** The same image asked for chunked (x-pixstore-chunked: 1): a chunked answer above 256 KiB, else the same Success. */
  pixstoreChunked: Target | null
  nginx: Target | null
  plainKoa: Target
  seconds: number
}

interface Measured extends WrkResult {
  cpuMicrosPerRequest: number
}

const CONNECTIONS = 32

async function measure(target: Target, seconds: number): Promise<Measured> {
  const before = await target.cpuMicros?.()
  const result = wrkAvailable()
    ? await runWrk({ url: target.url, headers: target.headers, connections: CONNECTIONS, seconds, expectBytes: target.expectBytes })
    : await nodeLoad(target, seconds)
  const after = await target.cpuMicros?.()
  return { ...result, cpuMicrosPerRequest: before === undefined || after === undefined ? Number.NaN : (after - before) / result.requests }
}

/** Without wrk: the Node load generator for a fixed number of requests (its own CPU then competes with the servers). */
async function nodeLoad(target: Target, seconds: number): Promise<WrkResult> {
  const requests = Math.max(50, Math.round((seconds * 2e8) / target.expectBytes))
  const result = await runLoad({ url: target.url, headers: target.headers, requests: Math.min(requests, 3000), concurrency: CONNECTIONS, expectBytes: target.expectBytes })
  return { requests: result.requests, seconds: result.seconds, rps: result.rps, p50Ms: result.p50Ms, p99Ms: result.p99Ms }
}

export async function benchEndpoint(cases: readonly SizeCase[], { rounds, keyBase }: { rounds: number; keyBase: number }): Promise<Row[]> {
  const rows: Row[] = []
  for (const [caseIndex, testCase] of cases.entries()) {
    const targets = [testCase.pixstore, testCase.pixstoreChunked, testCase.pixstoreWorkers, testCase.pixstoreV3, testCase.nginx, testCase.plainKoa].filter((t): t is Target => t !== null)
    for (const target of targets) await measure(target, Math.min(1, testCase.seconds)) // warm-up
    const results: Map<string, Measured>[] = []
    for (let round = 0; round < rounds; round++) {
      const order = balancedOrder(targets, round)
      const byName = new Map<string, Measured>()
      for (const target of order) byName.set(target.name, await measure(target, testCase.seconds))
      results.push(byName)
      process.stdout.write('.')
    }
    const pick = (baseline: Target, field: keyof Measured, subject = testCase.pixstore) => {
      const pairs = results.map((r) => ({ pixstore: r.get(subject.name)![field], plain: r.get(baseline.name)![field] }))
      return summarize(pairs)
    }
    let letter = 0
    const key = () => `${keyBase}${String.fromCharCode(97 + caseIndex * 8 + letter++)}`
    const load = `wrk, ${CONNECTIONS} keep-alive connections, ${testCase.seconds} s per round`
    if (testCase.pixstoreV3) {
      rows.push({
        key: key(),
        label: `GET ${testCase.name}: server CPU per request`,
        unit: 'us',
        versus: 'Pixstore 3.2.1',
        target: testCase.name === '100 KB' ? { atMost: 0.5 } : undefined,
        ...pick(testCase.pixstoreV3, 'cpuMicrosPerRequest'),
        better: 'lower',
        digits: 0,
        explain: `User+system CPU of the server process per Success answer (${load}). Pixstore 3.2.1: its own default endpoint, proof header, same image size.`,
      })
      rows.push({ key: key(), label: `GET ${testCase.name}: throughput`, unit: 'req/s', versus: 'Pixstore 3.2.1', ...pick(testCase.pixstoreV3, 'rps'), better: 'higher', digits: 0, explain: `Same runs as the row above.` })
    }
    if (testCase.nginx) {
      const cores = os.availableParallelism()
      rows.push({
        key: key(),
        label: `GET ${testCase.name}: throughput, 1 process`,
        unit: 'req/s',
        versus: 'nginx static',
        target: testCase.name === '100 KB' ? { atLeast: 0.5 } : undefined,
        ...pick(testCase.nginx, 'rps'),
        better: 'higher',
        digits: 0,
        explain: `nginx (worker_processes auto: ${cores} workers, sendfile) serving the same ciphertext bytes as a static file, ${load}. Pixstore: one Node process (initPixstoreBackend), so one core.`,
      })
      if (testCase.pixstoreWorkers) {
        rows.push({
          key: key(),
          label: `GET ${testCase.name}: throughput, serve --workers auto`,
          unit: 'req/s',
          versus: 'nginx static',
          target: testCase.name === '100 KB' ? { atLeast: 0.5 } : undefined,
          ...pick(testCase.nginx, 'rps', testCase.pixstoreWorkers),
          better: 'higher',
          digits: 0,
          explain: `The same, with Pixstore as \`pixstore serve --workers auto\` (${cores} processes on one port), as nginx runs a worker per core. On this machine wrk takes a core too.`,
        })
      }
      rows.push({ key: key(), label: `GET ${testCase.name}: latency p99`, unit: 'ms', versus: 'nginx static', ...pick(testCase.nginx, 'p99Ms'), better: 'lower', digits: 2, explain: `99th percentile latency seen by wrk in the same runs.` })
    }
    if (testCase.pixstoreChunked) {
      rows.push({
        key: key(),
        label: `GET ${testCase.name} asked chunked: server CPU per request`,
        unit: 'us',
        versus: 'Pixstore Success',
        ...pick(testCase.pixstore, 'cpuMicrosPerRequest', testCase.pixstoreChunked),
        better: 'lower',
        digits: 0,
        explain: `The same image and proof with x-pixstore-chunked: 1 (what the worker sends), against the Success answer every other client gets (${load}). Over 256 KiB (16 records) the answer is ChunkedSuccess, transcoded from the stored whole-GCM ciphertext as it is sent (AES-GCM decrypt + HKDF-keyed record encryption); at or below, the same Success answer.`,
      })
    }
    rows.push({
      key: key(),
      label: `GET ${testCase.name}: server CPU per request`,
      unit: 'us',
      versus: 'plain Koa',
      ...pick(testCase.plainKoa, 'cpuMicrosPerRequest'),
      better: 'lower',
      digits: 0,
      explain: `Against a plain Koa server reading the same ciphertext file per request (no proof, no lookup): what Pixstore adds to the framework.`,
    })
  }
  return rows
}
