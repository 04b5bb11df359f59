import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CHUNKED_RECORD_BYTES, chunkedRecordCount } from '../protocol/chunked'
import { vectorPlaintext } from '../protocol/chunkedVectors'
import { encryptChunked } from '../server/chunkedCrypto'
import { payloadRecords, recordPlaintexts } from './chunkedTampering'

describe('chunkedTampering helpers', () => {
  const meta = { key: vectorPlaintext(32, 5), iv: vectorPlaintext(12, 6) }
  for (const length of [1, CHUNKED_RECORD_BYTES, CHUNKED_RECORD_BYTES + 1, 3 * CHUNKED_RECORD_BYTES + 100]) {
    it(`cut a ${length}-byte plaintext's payload into its records and their plaintexts`, async () => {
      const plaintext = vectorPlaintext(length, 11)
      const payload = encryptChunked(meta.key, meta.iv, plaintext)
      const records = payloadRecords(payload)
      assert.equal(records.length, chunkedRecordCount(length))
      assert.ok(Buffer.concat(records).equals(payload), 'the records are the payload, in order, nothing left out')
      const pieces = await recordPlaintexts(payload, meta)
      assert.equal(pieces.length, records.length)
      assert.ok(Buffer.concat(pieces).equals(Buffer.from(plaintext)), 'the pieces are the plaintext, in order')
    })
  }

  it('cut the empty plaintext\'s payload into its one (empty) record', () => {
    const payload = encryptChunked(meta.key, meta.iv, new Uint8Array(0))
    assert.deepEqual(payloadRecords(payload).map((record) => record.length), [payload.length])
  })
})
