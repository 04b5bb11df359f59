import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { findStructureProblem } from './imageStructure'
import { fixtureImages, readFixture } from './testSupport'

const first = (extension: string) => readFixture(fixtureImages(extension)[0]!)

describe('findStructureProblem', () => {
  it('accepts every fixture in its own format', () => {
    for (const [extension, format] of [['png', 'png'], ['jpg', 'jpg'], ['webp', 'webp'], ['gif', 'gif'], ['avif', 'avif']] as const) {
      for (const file of fixtureImages(extension)) assert.equal(findStructureProblem(format, readFixture(file)), null, file)
    }
  })

  it('names what is wrong with a damaged or incomplete file', () => {
    const png = first('png')
    const flipped = Buffer.from(png)
    flipped[40]! ^= 0x01
    assert.match(findStructureProblem('png', flipped)!, /CRC mismatch/)
    // Signature and IHDR straight to IEND: the header of an image with no pixels.
    assert.match(findStructureProblem('png', Buffer.concat([png.subarray(0, 33), png.subarray(-12)]))!, /no image data/)
    assert.match(findStructureProblem('gif', first('gif').subarray(0, -1))!, /ends before the trailer/)
    assert.match(findStructureProblem('webp', first('webp').subarray(0, -2))!, /RIFF size/)
    assert.match(findStructureProblem('avif', first('avif').subarray(0, -1))!, /runs past the end/)
    assert.match(findStructureProblem('jpg', first('jpg').subarray(0, -2))!, /ends before the EOI marker/)
  })

  it('accepts data after a JPEG EOI (camera trailers), but not after a PNG IEND', () => {
    const trailer = Buffer.from('trailing maker notes')
    assert.equal(findStructureProblem('jpg', Buffer.concat([first('jpg'), trailer])), null)
    assert.match(findStructureProblem('png', Buffer.concat([first('png'), trailer]))!, /after the IEND chunk/)
  })
})
