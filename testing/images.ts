// Bench images: real, decodable PNGs of a chosen size. The pixels are seeded
// noise (incompressible, like photo data), stored with zlib level 0, so the
// file size is predictable and every byte is something a browser must parse.
import { deflateSync } from 'node:zlib'
import { crc32 } from '../server/crc32'

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)
const WIDTH = 512
const ROW_BYTES = 1 + WIDTH * 3 // filter byte + RGB
/** Signature, IHDR, IDAT framing, zlib framing, IEND: roughly what is not pixel data. */
const OVERHEAD = 8 + 25 + 12 + 6 + 12

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  out.set(data, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** A 512-px-wide RGB PNG of about `targetBytes` (within one row, ~1.5 KB). Same seed, same bytes. */
export function makePng(targetBytes: number, seed: number): Buffer {
  const height = Math.max(1, Math.round((targetBytes - OVERHEAD) / ROW_BYTES))
  const noise = Buffer.alloc(Math.ceil((height * ROW_BYTES) / 4) * 4)
  let state = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < noise.length; i += 4) {
    // xorshift32: fast, deterministic noise.
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    noise.writeUInt32LE(state >>> 0, i)
  }
  const raw = noise.subarray(0, height * ROW_BYTES)
  for (let row = 0; row < height; row++) raw[row * ROW_BYTES] = 0 // filter: None
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(WIDTH, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8-bit, truecolour, deflate, adaptive filter, no interlace
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 0 })), chunk('IEND', new Uint8Array(0))])
}

export const formatBytes = (bytes: number) =>
  bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(2)} MB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(0)} KB` : `${bytes} B`
