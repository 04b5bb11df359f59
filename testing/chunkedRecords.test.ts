import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { chunkedRecordCount, RECORD_OVERHEAD } from '../protocol/chunked'
import { decryptChunkedStream, encryptChunked } from '../server/chunkedCrypto'
import { chunkedRecordRange } from './chunkedRecords'

describe('chunkedRecordRange', () => {
  it('tiles a real payload record by record: a byte altered in record i lets exactly the records before it through', async () => {
    const key = randomBytes(32)
    const iv = randomBytes(12)
    for (const length of [1, 65_536, 65_537, 300_000]) {
      const plaintext = randomBytes(length)
      const payload = encryptChunked(key, iv, plaintext)
      const count = chunkedRecordCount(length)
      const ranges = Array.from({ length: count }, (_, i) => chunkedRecordRange(length, i))
      assert.equal(ranges[0]!.start, 0)
      assert.equal(ranges.at(-1)!.end, payload.length, `${length}: the last record ends the payload`)
      for (let i = 1; i < count; i++) assert.equal(ranges[i]!.start, ranges[i - 1]!.end, `${length}: record ${i} follows record ${i - 1}`)
      for (const [i, range] of ranges.entries()) {
        for (const at of [range.start, range.end - 1]) {
          const altered = Buffer.from(payload)
          altered[at]! ^= 1
          const passed: Uint8Array[] = []
          await assert.rejects(async () => {
            for await (const piece of decryptChunkedStream({ key, iv }, [altered])) passed.push(piece)
          })
          const through = Buffer.concat(passed)
          assert.ok(plaintext.subarray(0, through.length).equals(through), `${length}/${i}: what passed is the plaintext's start`)
          // Records 0..i-1 passed whole: the plaintext of the bytes before record i.
          assert.equal(through.length, range.start - i * RECORD_OVERHEAD, `${length}: a byte at ${at} belongs to record ${i}`)
        }
      }
    }
    assert.throws(() => chunkedRecordRange(10, 1), RangeError)
  })
})
