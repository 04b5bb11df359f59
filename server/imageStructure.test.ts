import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { makePng } from '../testing/images'
import { findStructureProblem, findStructureProblemInSlices } from './imageStructure'
import { countEventLoopTurns, fixtureImages, readFixture } from '../testing/testSupport'

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

  it('gives the same answers in slices as in one go, for whole and damaged files of every format', async () => {
    const big = makePng(3 * 1024 * 1024, 3)
    const damagedBig = Buffer.from(big)
    damagedBig[big.length >> 1]! ^= 0x01 // inside the one 3 MB IDAT chunk: found by a CRC summed in slices
    const cases: [Parameters<typeof findStructureProblem>[0], Uint8Array][] = [
      ['png', big],
      ['png', damagedBig],
      ['png', big.subarray(0, big.length - 5)],
      ...(['png', 'jpg', 'webp', 'gif', 'avif'] as const).flatMap((format) => fixtureImages(format).flatMap((file) => [[format, readFixture(file)], [format, readFixture(file).subarray(0, -3)]] as [typeof format, Uint8Array][])),
    ]
    for (const [format, bytes] of cases) assert.equal(await findStructureProblemInSlices(format, bytes), findStructureProblem(format, bytes), `${format}, ${bytes.length} bytes`)
    assert.match(findStructureProblem('png', damagedBig)!, /CRC mismatch/)
    assert.equal(findStructureProblem('png', big), null)
  })

  it('hands the event loop back while it checksums a large PNG', async () => {
    const big = makePng(8 * 1024 * 1024, 4)
    const loop = countEventLoopTurns()
    try {
      assert.equal(await findStructureProblemInSlices('png', big), null)
    } finally {
      loop.stop()
    }
    assert.ok(loop.turns >= 4, `an 8 MB walk let the event loop turn only ${loop.turns} times`)
  })
})
