// Section 2: peak memory of a fresh server process while many clients that
// hold a valid proof read one big image slowly: the case where a server that
// reads the whole file and copies it into each answer runs out of memory.
import http from 'node:http'
import type { Row } from './report'
import type { ServerProcess } from './serverProcess'
import { median, ratioRange } from './stats'

export interface SlowReadersSpec {
  url: string
  headers?: Record<string, string>
  clients: number
  expectBytes: number
  /** Pause after every chunk, so socket buffers fill and the server must hold the rest. */
  pauseMs: number
}

/** Every client on its own connection; resolves when all have read the whole answer. */
export async function slowReaders(spec: SlowReadersSpec): Promise<void> {
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const request = http.get(spec.url, { headers: spec.headers, agent: false }, (response) => {
        let bytes = 0
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          response.pause()
          setTimeout(() => response.resume(), spec.pauseMs)
        })
        response.on('end', () => (bytes === spec.expectBytes ? resolve() : reject(new Error(`${spec.url}: ${bytes} bytes, expected ${spec.expectBytes}`))))
        response.on('error', reject)
      })
      request.setTimeout(120_000, () => request.destroy(new Error(`${spec.url}: slow reader timed out`)))
      request.on('error', reject)
    })
  await Promise.all(Array.from({ length: spec.clients }, one))
}

export interface SlowReadersCase {
  name: string
  clients: number
  pixstore: { start: () => Promise<ServerProcess>; spec: (server: ServerProcess) => SlowReadersSpec }
  pixstoreV3: { start: () => Promise<ServerProcess>; spec: (server: ServerProcess) => SlowReadersSpec } | null
}

const MiB = 1024 * 1024

async function peakRss(start: () => Promise<ServerProcess>, spec: (server: ServerProcess) => SlowReadersSpec): Promise<{ idle: number; peak: number }> {
  const server = await start()
  try {
    const idle = (await server.sample(true)).memory.rss / MiB
    await slowReaders(spec(server))
    return { idle, peak: (await server.sample(false)).maxRss / MiB }
  } finally {
    await server.close()
  }
}

export async function benchSlowReaders(testCase: SlowReadersCase, { rounds, keyBase }: { rounds: number; keyBase: number }): Promise<{ rows: Row[]; notes: string[] }> {
  const results: { pixstore: { idle: number; peak: number }; v3: { idle: number; peak: number } | null }[] = []
  for (let round = 0; round < rounds; round++) {
    const pixstore = await peakRss(testCase.pixstore.start, testCase.pixstore.spec)
    const v3 = testCase.pixstoreV3 && (await peakRss(testCase.pixstoreV3.start, testCase.pixstoreV3.spec))
    results.push({ pixstore, v3 })
    process.stdout.write('.')
  }
  const peak = median(results.map((r) => r.pixstore.peak))
  const rows: Row[] = [
    {
      key: `${keyBase}a`,
      label: `peak RSS, ${testCase.clients} slow readers of ${testCase.name}`,
      unit: 'MiB',
      versus: 'Pixstore 3.2.1',
      pixstore: peak,
      plain: testCase.pixstoreV3 ? median(results.map((r) => r.v3!.peak)) : Number.NaN,
      range: testCase.pixstoreV3 ? ratioRange(results.map((r) => ({ pixstore: r.pixstore.peak, plain: r.v3!.peak }))) : undefined,
      better: 'lower',
      digits: 0,
      explain: `A fresh server process per round; ${testCase.clients} clients with a valid proof each request the ${testCase.name} image on their own connection and read it slowly. Peak resident memory (getrusage maxRSS) of the server. Pixstore 3.2.1's peak includes saving the image at its start.`,
    },
  ]
  const idle = median(results.map((r) => r.pixstore.idle))
  return { rows, notes: [`Slow readers: Pixstore peak ${peak.toFixed(0)} MiB (target under 300 MiB: ${peak < 300 ? 'met' : 'MISSED'}), from ${idle.toFixed(0)} MiB at idle.`] }
}
