import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { crc32, tableCrc32 } from './crc32'

describe('crc32', () => {
  it('matches the standard check value and the portable table version', () => {
    const check = new TextEncoder().encode('123456789')
    assert.equal(crc32(check), 0xcbf43926)
    assert.equal(tableCrc32(check), 0xcbf43926)
    for (const size of [0, 1, 13, 4096, 100_003]) {
      const bytes = randomBytes(size)
      assert.equal(crc32(bytes), tableCrc32(bytes), `${size} bytes`)
    }
  })

  it('continues over bytes that come in pieces', () => {
    const bytes = randomBytes(50_000)
    for (const crc of [crc32, tableCrc32]) {
      const inPieces = [0, 1, 7_000, 30_001, 50_000].reduce((previous, end, i, cuts) => (i === 0 ? 0 : crc(bytes.subarray(cuts[i - 1], end), previous)), 0)
      assert.equal(inPieces, crc32(bytes))
    }
  })
})
