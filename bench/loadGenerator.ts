// Closed-loop HTTP load: a fixed number of GETs over keep-alive connections,
// `concurrency` in flight at once. Every response is checked (status, length,
// first byte), so a broken server can never look fast.
import http from 'node:http'
import { elapsedMs, percentile } from './stats'

export interface LoadSpec {
  url: string
  headers?: Record<string, string>
  requests: number
  concurrency: number
  /** Exact body length every response must have. */
  expectBytes: number
  /** First body byte every response must start with (0 = Pixstore Success). */
  expectFirstByte?: number
}

export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  // A fresh agent per run: no socket left over from a previous run (and its idle timeout) is reused.
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency })
  const latencies: number[] = []
  let issued = 0
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const request = http.get(spec.url, { agent, headers: spec.headers }, (response) => {
        let bytes = 0
        let first: number | undefined
        response.on('data', (chunk: Buffer) => {
          if (bytes === 0) first = chunk[0]
          bytes += chunk.length
        })
        response.on('end', () => {
          if (response.statusCode !== 200) return reject(new Error(`${spec.url}: HTTP ${response.statusCode}`))
          if (bytes !== spec.expectBytes) return reject(new Error(`${spec.url}: ${bytes} bytes, expected ${spec.expectBytes}`))
          if (spec.expectFirstByte !== undefined && first !== spec.expectFirstByte) {
            return reject(new Error(`${spec.url}: first byte ${first}, expected ${spec.expectFirstByte}`))
          }
          resolve()
        })
        response.on('error', reject)
      })
      request.setTimeout(15_000, () => request.destroy(new Error(`${spec.url}: no response within 15 s`)))
      request.on('error', reject)
    })
  const worker = async () => {
    while (issued < spec.requests) {
      issued++
      const start = process.hrtime.bigint()
      await one()
      latencies.push(elapsedMs(start))
    }
  }
  const start = process.hrtime.bigint()
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker))
  } finally {
    agent.destroy()
  }
  const seconds = elapsedMs(start) / 1000
  return { requests: latencies.length, seconds, rps: latencies.length / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }
}
