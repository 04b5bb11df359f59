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
})
