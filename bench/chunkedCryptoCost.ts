/**
 * What the chunked payload costs in CPU, against today's whole-image AES-GCM
 * (issue 17): not a bench row, a measurement to choose how the store keeps
 * images. Run: node --import tsx bench/chunkedCryptoCost.ts [rounds]
 * Prints the median CPU time per operation (process.cpuUsage: user + system
 * of every thread, so WebCrypto's work on libuv's pool counts; less disturbed
 * than wall time when other processes share the cores), with the throughput it
 * means. No I/O: plaintext and ciphertexts are in memory.
 */
import { randomBytes } from 'node:crypto'
import { decryptChunked, encryptChunked, transcodeToChunked } from '../server/chunkedCrypto'
import { decryptImage, encryptWith } from '../server/crypto'
import { decryptImage as webDecryptImage } from '../sw/decryptImage'
import { createDecryptStream } from '../sw/streamDecrypt'

const rounds = Number(process.argv[2] ?? 15)
const SIZES = [100 * 1000, 1000 * 1000, 8 * 1000 * 1000]
/** A file read stream's chunk size (fs.createReadStream's default highWaterMark). */
const FILE_CHUNK = 64 * 1024
/** A typical network chunk a worker's fetch body yields. */
const NET_CHUNK = 16 * 1024

const split = (bytes: Uint8Array, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size))

async function median(run: () => unknown): Promise<number> {
  await run() // warm up
  const times: number[] = []
  for (let i = 0; i < rounds; i++) {
    const start = process.cpuUsage()
    await run()
    const used = process.cpuUsage(start)
    times.push((used.user + used.system) / 1000)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0
  for await (const piece of source) bytes += piece.length
  return bytes
}

async function webStream(payload: Uint8Array, meta: { key: Uint8Array; iv: Uint8Array }): Promise<number> {
  const pieces = split(payload, NET_CHUNK)
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pieces.shift()
      if (piece) controller.enqueue(piece)
      else controller.close()
    },
  })
  const reader = body.pipeThrough(createDecryptStream(meta)).getReader()
  let bytes = 0
  for (let result = await reader.read(); !result.done; result = await reader.read()) bytes += result.value.length
  return bytes
}

const rows: string[][] = [['operation', ...SIZES.map((size) => `${size / 1000} KB: CPU ms (MB/s)`)]]
const results = new Map<string, string[]>()
for (const size of SIZES) {
  const key = randomBytes(32)
  const iv = randomBytes(12)
  const plaintext = randomBytes(size)
  plaintext[0] = 3
  const whole = encryptWith(key, iv, plaintext)
  const chunked = encryptChunked(key, iv, plaintext)
  const operations: [string, () => unknown][] = [
    ['whole-GCM encrypt (server/crypto.ts)', () => encryptWith(key, iv, plaintext)],
    ['whole-GCM decrypt (server/crypto.ts)', () => decryptImage(whole.ciphertext, whole.meta)],
    ['chunked encrypt (Node)', () => encryptChunked(key, iv, plaintext)],
    ['chunked decrypt (Node, whole buffer)', () => decryptChunked(chunked, whole.meta)],
    ['transcode whole -> chunked (Node, 64 KiB file chunks)', () => drain(transcodeToChunked(whole.meta, split(whole.ciphertext, FILE_CHUNK)))],
    ['transcode chunked -> whole (Node)', () => encryptWith(key, iv, decryptChunked(chunked, whole.meta))],
    ['browser chunked decrypt stream (Node WebCrypto, 16 KiB chunks)', () => webStream(chunked, whole.meta)],
    ['browser whole-GCM decrypt (sw/decryptImage.ts, Node WebCrypto)', () => webDecryptImage(whole.ciphertext, whole.meta)],
  ]
  for (const [name, run] of operations) {
    const ms = await median(run)
    const cells = results.get(name) ?? []
    cells.push(`${ms.toFixed(2)} (${Math.round(size / 1000 / ms)})`)
    results.set(name, cells)
  }
}
for (const [name, cells] of results) rows.push([name, ...cells])
const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)))
for (const row of rows) console.log(row.map((cell, col) => cell.padEnd(widths[col]!)).join('  '))
console.log(`\nmedian of ${rounds} rounds, node ${process.version}, ${new Date().toISOString()}`)
