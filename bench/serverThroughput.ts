// Section 1: GET /pixstore-image/:id (Success, proof + token headers) against a
// plain Koa server sending the same ciphertext file, same load, same run.
import { runLoad, type LoadResult, type LoadSpec } from './loadGenerator'
import type { Row } from './report'
import type { ServerProcess } from './serverProcess'
import { median, ratioRange } from './stats'

export interface ThroughputCase {
  /** e.g. "100 KB" */
  name: string
  /** Pixstore request: URL path and headers. */
  pixstorePath: string
  headers: Record<string, string>
  /** Plain request: URL path of the same ciphertext file. */
  plainPath: string
  /** Wire payload length (1 state byte + ciphertext). */
  wireBytes: number
  ciphertextBytes: number
  requests: number
  warmup: number
}

interface Measured extends LoadResult {
  cpuMicrosPerRequest: number
}

async function measure(server: ServerProcess, spec: LoadSpec): Promise<Measured> {
  const before = await server.sample()
  const result = await runLoad(spec)
  const after = await server.sample()
  return { ...result, cpuMicrosPerRequest: (after.cpuMicros - before.cpuMicros) / result.requests }
}

export async function benchThroughput(
  pixstore: ServerProcess,
  plain: ServerProcess,
  cases: readonly ThroughputCase[],
  { rounds, concurrency }: { rounds: number; concurrency: number },
): Promise<Row[]> {
  const rows: Row[] = []
  for (const [index, testCase] of cases.entries()) {
    const pixstoreSpec = (requests: number): LoadSpec => ({
      url: `${pixstore.origin}${testCase.pixstorePath}`,
      headers: testCase.headers,
      requests,
      concurrency,
      expectBytes: testCase.wireBytes,
      expectFirstByte: 0,
    })
    const plainSpec = (requests: number): LoadSpec => ({ url: `${plain.origin}${testCase.plainPath}`, requests, concurrency, expectBytes: testCase.ciphertextBytes })
    await runLoad(pixstoreSpec(testCase.warmup))
    await runLoad(plainSpec(testCase.warmup))
    const results: { pixstore: Measured; plain: Measured }[] = []
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so drift on a shared machine does not favour one side.
      if (round % 2 === 0) {
        const p = await measure(pixstore, pixstoreSpec(testCase.requests))
        results.push({ pixstore: p, plain: await measure(plain, plainSpec(testCase.requests)) })
      } else {
        const b = await measure(plain, plainSpec(testCase.requests))
        results.push({ pixstore: await measure(pixstore, pixstoreSpec(testCase.requests)), plain: b })
      }
      process.stdout.write('.')
    }
    const pick = (field: keyof Measured) => {
      const pairs = results.map((r) => ({ pixstore: r.pixstore[field], plain: r.plain[field] }))
      return { pixstore: median(pairs.map((p) => p.pixstore)), plain: median(pairs.map((p) => p.plain)), range: ratioRange(pairs) }
    }
    const key = (offset: number) => `1${String.fromCharCode(97 + index * 4 + offset)}`
    const what = `${testCase.requests} GETs of the ${testCase.name} image, keep-alive, ${concurrency} in flight`
    rows.push(
      {
        key: key(0),
        label: `GET ${testCase.name}: throughput`,
        unit: 'req/s',
        ...pick('rps'),
        better: 'higher',
        digits: 0,
        explain: `${what}. Pixstore: GET /pixstore-image/:id with proof + token headers (Success: proof HMACs, SQLite row, file read, wire encode). Plain: Koa reading the same ciphertext file per request.`,
      },
      { key: key(1), label: `GET ${testCase.name}: latency p50`, unit: 'ms', ...pick('p50Ms'), better: 'lower', digits: 2, explain: `Median request latency of the same runs, as seen by the client.` },
      { key: key(2), label: `GET ${testCase.name}: latency p99`, unit: 'ms', ...pick('p99Ms'), better: 'lower', digits: 2, explain: `99th percentile latency of the same runs.` },
      {
        key: key(3),
        label: `GET ${testCase.name}: server CPU per request`,
        unit: 'us',
        ...pick('cpuMicrosPerRequest'),
        better: 'lower',
        digits: 0,
        explain: `User+system CPU of the server process per request (process.cpuUsage in the child). Least sensitive to a noisy neighbour or to the load generator being the bottleneck.`,
      },
    )
  }
  return rows
}
