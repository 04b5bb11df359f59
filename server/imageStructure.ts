import type { ImageFormatName } from '../protocol/formats'
import { crc32 } from './crc32'

/**
 * Why `bytes` is not one complete image of `format`, or null when it is.
 * Walks the container structure (PNG chunks to IEND, JPEG segments to EOI,
 * GIF blocks to the trailer, the RIFF size of WebP, the box tree of AVIF)
 * without decoding pixels, so a file cut short or a header glued to other
 * content is refused while staying cheap enough for every save.
 */
export function findStructureProblem(format: ImageFormatName, bytes: Uint8Array): string | null {
  return outcome(() => {
    const walk = structureWalk(format, bytes)
    for (;;) {
      const step = walk.next()
      if (step.done) return step.value
    }
  })
}

/**
 * findStructureProblem for a save: the same walk, but it hands the event loop
 * back after every megabyte it checksums, so a large PNG (a CRC over every
 * byte, about 0.35 ms per MB) does not stall the requests this process serves.
 */
export async function findStructureProblemInSlices(format: ImageFormatName, bytes: Uint8Array): Promise<string | null> {
  const walk = structureWalk(format, bytes)
  for (;;) {
    const step = outcome(() => walk.next())
    if (typeof step === 'string') return step
    if (step.done) return step.value
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Bytes a walk checksums between two pauses. */
const SLICE_BYTES = 1 << 20

/** A walk over the structure that pauses (yields) between slices of work; its return value is the problem, or null. */
type StructureWalk = Generator<void, string | null, void>

function* structureWalk(format: ImageFormatName, bytes: Uint8Array): StructureWalk {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (format) {
    case 'png':
      return yield* walkPng(bytes, view)
    case 'jpg':
    case 'jpeg':
      return checkJpeg(bytes)
    case 'gif':
      return checkGif(bytes)
    case 'webp':
      return checkWebp(bytes, view)
    case 'avif':
      return checkAvif(bytes, view)
  }
}

/** A read past the end (DataView) means the file ends early. */
function outcome<T>(step: () => T): T | string {
  try {
    return step()
  } catch (error) {
    if (error instanceof RangeError) return 'it ends early'
    throw error
  }
}

const ascii = (bytes: Uint8Array, start: number, length: number) => String.fromCharCode(...bytes.subarray(start, start + length))

function* walkPng(bytes: Uint8Array, view: DataView): StructureWalk {
  let offset = 8
  let sawData = false
  let sincePause = 0
  for (let index = 0; ; index++) {
    if (offset + 12 > bytes.length) return 'it ends before the IEND chunk'
    const length = view.getUint32(offset)
    const type = ascii(bytes, offset + 4, 4)
    if (!/^[A-Za-z]{4}$/.test(type)) return `chunk ${index} has no valid type`
    if (index === 0 && (type !== 'IHDR' || length !== 13)) return 'it does not start with an IHDR chunk'
    const end = offset + 8 + length + 4
    if (end > bytes.length) return `chunk "${type}" runs past the end of the file`
    // The CRC covers type and data; a big chunk is summed a slice at a time.
    let crc = 0
    for (let at = offset + 4; at < end - 4; at += SLICE_BYTES) {
      const slice = bytes.subarray(at, Math.min(at + SLICE_BYTES, end - 4))
      crc = crc32(slice, crc)
      sincePause += slice.length
      if (sincePause >= SLICE_BYTES) {
        sincePause = 0
        yield
      }
    }
    if (crc !== view.getUint32(end - 4)) return `chunk "${type}" is damaged (CRC mismatch)`
    if (type === 'IDAT') sawData = true
    offset = end
    if (type === 'IEND') break
  }
  if (!sawData) return 'it has no image data (IDAT)'
  return offset === bytes.length ? null : 'it has data after the IEND chunk'
}

function checkJpeg(bytes: Uint8Array): string | null {
  let offset = 2
  let sawFrame = false
  for (;;) {
    if (offset + 2 > bytes.length) return 'it ends before the EOI marker'
    if (bytes[offset] !== 0xff) return `no segment marker at byte ${offset}`
    const marker = bytes[offset + 1]!
    if (marker === 0xff) {
      offset++ // fill byte
      continue
    }
    if (marker === 0xd9) return sawFrame ? null : 'it has no frame header' // EOI; anything after it (camera trailers) is ignored by decoders
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      offset += 2 // standalone markers
      continue
    }
    if (offset + 4 > bytes.length) return 'it ends inside a segment header'
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!
    if (length < 2) return `segment at byte ${offset} has an invalid length`
    offset += 2 + length
    if (offset > bytes.length) return `segment 0x${marker.toString(16)} runs past the end of the file`
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) sawFrame = true
    if (marker === 0xda) {
      if (!sawFrame) return 'scan data comes before the frame header'
      // Entropy-coded data runs to the next marker that is not a stuffed 0x00 or a restart marker.
      for (;;) {
        offset = bytes.indexOf(0xff, offset)
        if (offset === -1 || offset + 1 >= bytes.length) return 'it ends before the EOI marker'
        const next = bytes[offset + 1]!
        if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7)) break
        offset += 2
      }
    }
  }
}

function checkGif(bytes: Uint8Array): string | null {
  const packed = bytes[10]
  if (packed === undefined) return 'it ends inside the screen descriptor'
  let offset = 13 + ((packed & 0x80) ? 3 * 2 ** ((packed & 0x07) + 1) : 0)
  let images = 0
  const skipSubBlocks = () => {
    for (;;) {
      const size = bytes[offset]
      if (size === undefined) throw new RangeError()
      offset += 1 + size
      if (size === 0) return
    }
  }
  for (;;) {
    const introducer = bytes[offset]
    if (introducer === undefined) return 'it ends before the trailer'
    if (introducer === 0x3b) return images > 0 ? null : 'it has no image'
    if (introducer === 0x21) {
      offset += 2
      skipSubBlocks()
    } else if (introducer === 0x2c) {
      const localPacked = bytes[offset + 9]
      if (localPacked === undefined) return 'it ends inside an image descriptor'
      offset += 10 + ((localPacked & 0x80) ? 3 * 2 ** ((localPacked & 0x07) + 1) : 0)
      offset++ // LZW minimum code size
      skipSubBlocks()
      images++
    } else {
      return `unknown block 0x${introducer.toString(16)} at byte ${offset}`
    }
    if (offset > bytes.length) return 'it ends inside a block'
  }
}

function checkWebp(bytes: Uint8Array, view: DataView): string | null {
  if (bytes.length < 20) return 'it ends inside the RIFF header'
  const riffEnd = 8 + view.getUint32(4, true)
  if (riffEnd !== bytes.length && riffEnd + 1 !== bytes.length) return `its RIFF size says ${riffEnd} bytes, the file has ${bytes.length}`
  let offset = 12
  let sawImage = false
  while (offset < riffEnd) {
    if (offset + 8 > riffEnd) return 'it ends inside a chunk header'
    const type = ascii(bytes, offset, 4)
    const size = view.getUint32(offset + 4, true)
    const data = offset + 8
    if (data + size > riffEnd) return `chunk "${type}" runs past the end of the file`
    if (type === 'VP8 ') {
      if (size < 10 || bytes[data + 3] !== 0x9d || bytes[data + 4] !== 0x01 || bytes[data + 5] !== 0x2a) return 'its VP8 frame header is damaged'
      sawImage = true
    }
    if (type === 'VP8L') {
      if (size < 5 || bytes[data] !== 0x2f) return 'its VP8L header is damaged'
      sawImage = true
    }
    if (type === 'ANMF') sawImage = true
    offset = data + size + (size % 2)
  }
  return sawImage ? null : 'it has no image data'
}

function checkAvif(bytes: Uint8Array, view: DataView): string | null {
  const seen = new Set<string>()
  let offset = 0
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) return 'it ends inside a box header'
    let size = view.getUint32(offset)
    const type = ascii(bytes, offset + 4, 4)
    if (size === 1) {
      const large = view.getBigUint64(offset + 8)
      size = large > BigInt(bytes.length) ? Infinity : Number(large)
    } else if (size === 0) {
      size = bytes.length - offset
    }
    if (size < 8 || offset + size > bytes.length) return `box "${type}" runs past the end of the file`
    if (seen.size === 0) {
      if (type !== 'ftyp' || size < 16) return 'it does not start with an ftyp box'
      const brands = [ascii(bytes, offset + 8, 4)]
      for (let brand = offset + 16; brand + 4 <= offset + size; brand += 4) brands.push(ascii(bytes, brand, 4))
      if (!brands.includes('avif') && !brands.includes('avis')) return 'its ftyp box does not name the AVIF brand'
    }
    seen.add(type)
    offset += size
  }
  if (!seen.has('meta')) return 'it has no meta box'
  if (!seen.has('mdat')) return 'it has no media data (mdat box)'
  return null
}
