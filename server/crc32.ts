import zlib from 'node:zlib'

// Node's own (zlib) CRC-32 arrived in Node 20.15 / 22.2; the package promises Node 20, so older ones get the table.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function tableCrc32(bytes: Uint8Array, previous = 0): number {
  let crc = (previous ^ 0xffffffff) >>> 0
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, previous?: number) => number }).crc32

/**
 * CRC-32 as PNG chunks use it (ISO 3309). Native when Node has it: a profile
 * of saveImage showed the table loop over a 1 MB PNG's chunks as most of a save.
 * `previous` continues a CRC over bytes that come in pieces.
 */
export const crc32: (bytes: Uint8Array, previous?: number) => number = nativeCrc32 ?? tableCrc32

/** The portable version, so tests can hold the native one to it. */
export { tableCrc32 }
