// wrk (Debian package `wrk`) as the load generator when installed: a C client
// that keeps 32 connections busy at a fraction of the CPU a Node client needs,
// so the servers, not the client, are measured.
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'

export interface WrkSpec {
  url: string
  headers?: Record<string, string>
  connections: number
  seconds: number
  /** Every answer must be this long (checked on the total bytes read). */
  expectBytes: number
}

export interface WrkResult {
  requests: number
  seconds: number
  rps: number
  p50Ms: number
  p99Ms: number
}

export function wrkAvailable(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (error) {
    // wrk --version exits 1 after printing its banner; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }
const parseAmount = (text: string) => {
  const match = /^([\d.]+)(us|ms|s|B|KB|MB|GB)?$/.exec(text.trim())
  if (!match) throw new Error(`wrk: cannot read "${text}"`)
  return Number(match[1]) * (UNITS[match[2] ?? 'B'] ?? 1)
}

export async function runWrk(spec: WrkSpec): Promise<WrkResult> {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '--latency', '--timeout', '10s']
  for (const [name, value] of Object.entries(spec.headers ?? {})) args.push('-H', `${name}: ${value}`)
  const { stdout } = await promisify(execFile)('wrk', [...args, spec.url], { maxBuffer: 1 << 20 })
  const total = /(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read/.exec(stdout)
  if (!total) throw new Error(`wrk printed no totals:\n${stdout}`)
  const requests = Number(total[1])
  const seconds = parseAmount(total[2]!) / 1000
  const bytes = parseAmount(total[3]!)
  if (/Non-2xx|Socket errors/.test(stdout)) throw new Error(`wrk saw failed requests against ${spec.url}:\n${stdout}`)
  // The total includes headers and the partly read answers still in flight at the end, and wrk
  // rounds it to two decimals: every completed answer must be whole, and nothing may be far bigger.
  const low = requests * spec.expectBytes * 0.99
  const high = (requests + spec.connections) * (spec.expectBytes + 1024) * 1.01
  if (bytes < low || bytes > high) {
    throw new Error(`wrk read ${bytes} bytes in ${requests} answers from ${spec.url}, expected ${spec.expectBytes} each`)
  }
  const latency = (p: string) => parseAmount(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(stdout)?.[1] ?? 'NaN')
  return { requests, seconds, rps: requests / seconds, p50Ms: latency('50'), p99Ms: latency('99') }
}
