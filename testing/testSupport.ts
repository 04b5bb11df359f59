// Shared by the server's tests: a real backend on a real port, in a temp dir.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { unframeImage } from '../protocol/formats'
import { decodeWirePayload, PixstoreState, type WirePayload } from '../protocol/wire'
import { decodeImageMeta, type ImageRecord } from '../protocol/record'
import { sharedPostgresCluster } from './postgresCluster'
import type { PixstoreConfig } from '../server/config'
import { decryptImage } from '../server/crypto'

export const TEST_SECRET = 'pixstore-test-secret-0123456789abcdef'
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))

/** Every shipped fixture image of one extension (at least one, or the test is meaningless). */
export function fixtureImages(extension: string): string[] {
  const dir = path.join(FIXTURES, 'images')
  const files = readdirSync(dir).filter((name) => name.endsWith(`.${extension}`)).map((name) => path.join(dir, name))
  if (files.length === 0) throw new Error(`no .${extension} fixture in ${dir}`)
  return files
}

export const readFixture = (file: string) => readFileSync(file)

/** A fresh store location; removed by the returned cleanup. */
export function tempStore(): { config: { imageRootDir: string; databasePath: string }; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'pixstore-test-'))
  return {
    dir,
    config: { imageRootDir: path.join(dir, 'images'), databasePath: path.join(dir, 'pixstore.sqlite') },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** The test config: loopback, a free port, a fixed secret. */
export function testConfig(overrides: Partial<PixstoreConfig> = {}): { config: Partial<PixstoreConfig>; cleanup: () => void } {
  const store = tempStore()
  return {
    config: { defaultEndpointListenHost: '127.0.0.1', defaultEndpointListenPort: 0, statelessProofSecret: TEST_SECRET, ...store.config, ...overrides },
    cleanup: store.cleanup,
  }
}

/** Both stores: every store-agnostic test runs against each. */
export const STORE_KINDS = ['sqlite', 'postgres'] as const
export type StoreKind = (typeof STORE_KINDS)[number]

/**
 * A fresh, empty store of `kind`: SQLite files in a temp dir, or a new
 * database in this test process's private PostgreSQL cluster (started on
 * first use, removed when the process exits).
 */
export async function storeConfig(kind: StoreKind): Promise<{ config: Partial<PixstoreConfig>; cleanup: () => void }> {
  if (kind === 'sqlite') return tempStore()
  const cluster = await sharedPostgresCluster()
  return { config: { databaseUrl: await cluster.createDatabase() }, cleanup: () => {} }
}

/** testConfig for either store. */
export async function testConfigFor(kind: StoreKind, overrides: Partial<PixstoreConfig> = {}): Promise<{ config: Partial<PixstoreConfig>; cleanup: () => void }> {
  const store = await storeConfig(kind)
  return {
    config: { defaultEndpointListenHost: '127.0.0.1', defaultEndpointListenPort: 0, statelessProofSecret: TEST_SECRET, ...store.config, ...overrides },
    cleanup: store.cleanup,
  }
}

export async function fetchWire(baseUrl: string, id: string, headers: Record<string, string> = {}): Promise<{ response: Response; payload: WirePayload }> {
  const response = await fetch(`${baseUrl}/pixstore-image/${id}`, { headers })
  return { response, payload: decodeWirePayload(new Uint8Array(await response.arrayBuffer())) }
}

export const proofHeaders = (record: ImageRecord, withToken = true): Record<string, string> => ({
  'x-pixstore-proof': record.statelessProof,
  ...(withToken ? { 'x-pixstore-token': String(record.token) } : {}),
})

/** Decrypts a Success (with the record's meta) or Updated (with its own meta) payload to the image bytes. */
export function openPayload(payload: WirePayload, record: ImageRecord): { image: Buffer; mimeType: string; token: number } {
  if (payload.state === PixstoreState.Success) {
    const { format, image } = unframeImage(decryptImage(payload.ciphertext, decodeImageMeta(record.meta)))
    return { image: Buffer.from(image), mimeType: format.mimeType, token: record.token }
  }
  if (payload.state === PixstoreState.Updated) {
    const { format, image } = unframeImage(decryptImage(payload.ciphertext, payload.meta))
    return { image: Buffer.from(image), mimeType: format.mimeType, token: payload.token }
  }
  throw new Error(`expected Success or Updated, got state ${payload.state}`)
}

/** Serves a backend through the same Koa app the default endpoint uses. */
export async function serve(app: { listen: (port: number, host: string) => import('node:http').Server }): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as import('node:net').AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

/** Sends bytes exactly as written (no URL normalisation, repeated headers kept), like an attacker would. */
export async function rawRequest(baseUrl: string, pathAndQuery: string, headerLines: string[] = []): Promise<{ status: number; body: Buffer }> {
  const { status, body } = await rawExchange(baseUrl, 'GET', pathAndQuery, headerLines)
  return { status, body }
}

/** One request of any method written as is; status, lower-case headers and body as the server sent them. */
export function rawExchange(baseUrl: string, method: string, target: string, headerLines: string[] = []): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write([`${method} ${target} HTTP/1.1`, `Host: ${hostname}`, 'Connection: close', ...headerLines, '', ''].join('\r\n'))
    })
    const chunks: Buffer[] = []
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('end', () => {
      const response = Buffer.concat(chunks)
      const split = response.indexOf('\r\n\r\n')
      const [statusLine, ...lines] = response.subarray(0, split).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: response.subarray(split + 4) })
    })
  })
}

/**
 * Counts event-loop turns (one setImmediate per turn) until `stop()`: a test
 * reads `turns` to see whether long work handed the loop back. Counting, not timing.
 */
export function countEventLoopTurns(): { readonly turns: number; stop: () => void } {
  let turns = 0
  let ticking = true
  const tick = () => {
    turns++
    if (ticking) setImmediate(tick)
  }
  setImmediate(tick)
  return {
    get turns() {
      return turns
    },
    stop: () => (ticking = false),
  }
}

/** Descriptors this process holds on files under `dir` (the image root): the version files being served. */
export function openFilesUnder(dir: string): number {
  const root = path.resolve(dir)
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root + path.sep)) count++
    } catch {
      // closed between the listing and the readlink
    }
  }
  return count
}
