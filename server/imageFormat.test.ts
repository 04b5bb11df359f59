import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { IMAGE_FORMAT_NAMES } from '../protocol/formats'
import { crc32 } from './crc32'
import { detectImageFormat, sniffImageFormat } from './imageFormat'
import { fixtureImages, readFixture } from '../testing/testSupport'

const ALL = IMAGE_FORMAT_NAMES

/** A PNG chunk with its length and CRC. */
function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const framed = Buffer.alloc(body.length + 8)
  framed.writeUInt32BE(data.length, 0)
  body.copy(framed, 4)
  framed.writeUInt32BE(crc32(body), body.length + 4)
  return framed
}

describe('detectImageFormat', () => {
  it('names every fixture by its content', () => {
    for (const [extension, name] of [['png', 'png'], ['jpg', 'jpg'], ['webp', 'webp'], ['gif', 'gif'], ['avif', 'avif']] as const) {
      for (const file of fixtureImages(extension)) assert.equal(detectImageFormat(readFixture(file), ALL).name, name, file)
    }
  })

  it('takes an animated PNG (APNG) as a PNG, as browsers and Pixstore 3.x do', () => {
    const png = readFixture(fixtureImages('png')[0]!)
    const animationControl = pngChunk('acTL', Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0)) // 1 frame, loop forever
    const apng = Buffer.concat([png.subarray(0, 33), animationControl, png.subarray(33)])
    assert.equal(detectImageFormat(apng, ALL).name, 'png')
  })

  it('refuses what only looks like an image at the start, naming the formats it takes', () => {
    const jpeg = readFixture(fixtureImages('jpg')[0]!)
    const notImages: Record<string, Uint8Array> = {
      'JPEG-LS (another codec)': Buffer.concat([Uint8Array.of(0xff, 0xd8, 0xff, 0xf7), jpeg.subarray(4)]),
      'HEIC (ftyp heic)': Buffer.from('\0\0\0\x18ftypheic\0\0\0\0mif1heic', 'latin1'),
      'BMP': Buffer.from('BM6\0\0\0\0\0\0\x006\0\0\0', 'latin1'),
      'RIFF that is not WebP': Buffer.from('RIFF\x04\0\0\0WAVE', 'latin1'),
      'a PNG behind a byte-order mark': Buffer.concat([Uint8Array.of(0xef, 0xbb, 0xbf), readFixture(fixtureImages('png')[0]!)]),
      'empty': new Uint8Array(0),
      'one byte': Uint8Array.of(0x89),
    }
    for (const [what, bytes] of Object.entries(notImages)) {
      assert.throws(() => detectImageFormat(bytes, ALL), { code: 'ERR_INVALID_IMAGE', message: /not a PNG, JPEG, WebP, GIF or AVIF image/ }, what)
    }
  })

  it('refuses a format left out of imageFormats, and takes JPEG under either name', () => {
    const jpeg = readFixture(fixtureImages('jpg')[0]!)
    assert.throws(() => sniffImageFormat(readFixture(fixtureImages('gif')[0]!), ['png', 'jpg']), { code: 'ERR_INVALID_IMAGE', message: /"gif" is not in imageFormats/ })
    assert.equal(sniffImageFormat(jpeg, ['jpeg']).name, 'jpg')
    assert.equal(sniffImageFormat(jpeg, ['jpg']).name, 'jpg')
  })

  it('refuses a file that starts right but is not whole', () => {
    const gif = readFixture(fixtureImages('gif')[0]!)
    assert.equal(sniffImageFormat(gif.subarray(0, 20), ALL).name, 'gif', 'the signature alone names the format')
    assert.throws(() => detectImageFormat(gif.subarray(0, 20), ALL), { code: 'ERR_INVALID_IMAGE', message: /not a complete GIF image/ })
  })
})
