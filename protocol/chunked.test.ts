import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CHUNKED_RECORD_BYTES,
  chunkedPayloadLength,
  ChunkedPayloadError,
  chunkedPlaintextLength,
  chunkedRecordCount,
  ChunkedRecordReader,
  recordNonce,
  SEALED_RECORD_BYTES,
  type SealedRecord,
} from './chunked'
import { CHUNKED_VECTORS, VECTOR_IV, VECTOR_NONCE_0x01020304 } from './chunkedVectors'

const RS = CHUNKED_RECORD_BYTES

/**
 * The reader's rules need no cipher: these tests seal with the identity
 * (plaintext, delimiter, 16 zero bytes as the "tag") and open by dropping the
 * tag. The real ciphers are tested with the same reader in
 * server/chunkedCrypto.test.ts and sw/streamDecrypt.test.ts.
 */
const identitySeal = (piece: Uint8Array, delimiter: number) => Uint8Array.from([...piece, delimiter, ...new Uint8Array(16)])
const identityOpen = (record: SealedRecord) => record.sealed.subarray(0, record.sealed.length - 16)
const piece = (index: number, length = RS) => new Uint8Array(length).fill(index + 1)
const concat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]))

/** Runs the reader over `payload` cut at `cuts`, returning what it passed on before finishing or failing. */
function read(payload: Uint8Array, cuts: number[] = []): { passed: Uint8Array; error?: ChunkedPayloadError } {
  const reader = new ChunkedRecordReader()
  const passed: Uint8Array[] = []
  const bounds = [0, ...cuts.filter((cut) => cut > 0 && cut < payload.length), payload.length]
  try {
    for (let i = 0; i + 1 < bounds.length; i++) {
      reader.push(payload.subarray(bounds[i], bounds[i + 1]))
      assert.ok(reader.bufferedBytes < SEALED_RECORD_BYTES + (bounds[i + 1]! - bounds[i]!), 'holds at most one incomplete record plus the chunk')
      for (let record = reader.next(); record; record = reader.next()) {
        const out = reader.accept(record, identityOpen(record))
        if (out) passed.push(out)
      }
      assert.ok(reader.bufferedBytes < SEALED_RECORD_BYTES, 'after reading, less than one record is buffered')
    }
    const tail = reader.end()
    if (tail) {
      const out = reader.accept(tail, identityOpen(tail))
      assert.equal(out, null, 'the last record is held back')
    }
    passed.push(reader.finish())
    return { passed: concat(passed) }
  } catch (error) {
    if (!(error instanceof ChunkedPayloadError)) throw error
    return { passed: concat(passed), error }
  }
}

describe('chunked payload lengths', () => {
  it('counts one record for an empty plaintext and one more per started record (16 KiB)', () => {
    assert.deepEqual([0, 1, RS - 1, RS, RS + 1, 3 * RS].map(chunkedRecordCount), [1, 1, 1, 1, 2, 3])
  })

  it('maps every plaintext length to its payload length and back, the vectors included', () => {
    for (const length of [0, 1, 2, 100, RS - 1, RS, RS + 1, 2 * RS - 1, 2 * RS, 2 * RS + 1, 25 * 1024 * 1024]) {
      assert.equal(chunkedPlaintextLength(chunkedPayloadLength(length)), length, `length ${length}`)
    }
    for (const vector of CHUNKED_VECTORS) assert.equal(chunkedPayloadLength(vector.plaintextLength), vector.payloadLength)
  })

  it('refuses payload lengths no plaintext has: too short for a record, or an empty record after a full one', () => {
    for (const length of [0, 1, 16, SEALED_RECORD_BYTES + 1, SEALED_RECORD_BYTES + 16, SEALED_RECORD_BYTES + 17, 2 * SEALED_RECORD_BYTES + 5]) {
      assert.throws(() => chunkedPlaintextLength(length), (error) => error instanceof ChunkedPayloadError && error.reason === 'Truncated', `length ${length}`)
    }
  })
})

describe('recordNonce', () => {
  it('is the iv XOR the index, big-endian in the last bytes (the vector), leaving the iv unchanged', () => {
    const iv = Uint8Array.from(VECTOR_IV)
    assert.deepEqual(recordNonce(iv, 0), VECTOR_IV)
    assert.deepEqual(recordNonce(iv, 0x01020304), VECTOR_NONCE_0x01020304)
    assert.deepEqual([...recordNonce(new Uint8Array(12).fill(0xff), 2 ** 32 - 1)], [...new Array(8).fill(0xff), 0, 0, 0, 0])
    assert.deepEqual(iv, VECTOR_IV)
  })

  it('refuses indexes beyond the 32-bit counter and ivs of the wrong length', () => {
    assert.throws(() => recordNonce(VECTOR_IV, 2 ** 32), (error) => error instanceof ChunkedPayloadError && error.reason === 'TooLong')
    assert.throws(() => recordNonce(VECTOR_IV, -1), (error) => error instanceof ChunkedPayloadError && error.reason === 'TooLong')
    assert.throws(() => recordNonce(new Uint8Array(16), 0), (error) => error instanceof ChunkedPayloadError && error.reason === 'BadMeta')
  })
})

describe('ChunkedRecordReader', () => {
  const three = concat([identitySeal(piece(0), 1), identitySeal(piece(1), 1), identitySeal(piece(2, 1000), 2)])
  const plaintext = concat([piece(0), piece(1), piece(2, 1000)])

  it('reads records split across chunks at any point, including 1-byte chunks around record boundaries', () => {
    assert.deepEqual(read(three).passed, plaintext)
    const everyByteNearBoundaries = [SEALED_RECORD_BYTES, 2 * SEALED_RECORD_BYTES].flatMap((b) => Array.from({ length: 40 }, (_, i) => b - 20 + i))
    for (const cuts of [[1], [SEALED_RECORD_BYTES], [SEALED_RECORD_BYTES - 1, SEALED_RECORD_BYTES + 1], [70000, 70001, 140000], everyByteNearBoundaries]) {
      const { passed, error } = read(three, cuts)
      assert.equal(error, undefined)
      assert.deepEqual(passed, plaintext, `cuts ${cuts.slice(0, 4)}`)
    }
  })

  it('accepts a last record that is exactly full, and an empty plaintext as one empty record', () => {
    assert.deepEqual(read(concat([identitySeal(piece(0), 1), identitySeal(piece(1), 2)])).passed, concat([piece(0), piece(1)]))
    assert.deepEqual(read(identitySeal(new Uint8Array(0), 2)), { passed: new Uint8Array(0) })
  })

  it('fails Truncated on no record, a cut leaving less than a record\'s overhead, and an end after a record not marked last (a cut anywhere else is an authentication failure: the cipher tests)', () => {
    assert.equal(read(new Uint8Array(0)).error?.reason, 'Truncated')
    assert.equal(read(identitySeal(piece(0, 5), 1)).error?.reason, 'Truncated', 'a short record not marked last')
    assert.equal(read(three.subarray(0, 2 * SEALED_RECORD_BYTES + 10)).error?.reason, 'Truncated')
    const atBoundary = read(three.subarray(0, 2 * SEALED_RECORD_BYTES))
    assert.equal(atBoundary.error?.reason, 'Truncated')
    assert.deepEqual(atBoundary.passed, concat([piece(0), piece(1)]), 'records before the cut were authentic and passed on')
  })

  it('fails TrailingData on bytes after the last record, and passes on nothing of that last record', () => {
    const early = concat([identitySeal(piece(0), 1), identitySeal(piece(1), 2), identitySeal(piece(2, 1000), 2)])
    for (const cuts of [[], [2 * SEALED_RECORD_BYTES], [2 * SEALED_RECORD_BYTES + 1]]) {
      const { passed, error } = read(early, cuts)
      assert.equal(error?.reason, 'TrailingData')
      assert.deepEqual(passed, piece(0))
    }
  })

  it('fails on a delimiter other than 1 and 2, and on an empty last record after a full one', () => {
    assert.equal(read(identitySeal(piece(0, 5), 0)).error?.reason, 'BadDelimiter')
    assert.equal(read(concat([identitySeal(piece(0), 3), identitySeal(piece(1, 5), 2)])).error?.reason, 'BadDelimiter')
    const padded = read(concat([identitySeal(piece(0), 1), identitySeal(new Uint8Array(0), 2)]))
    assert.equal(padded.error?.reason, 'NonCanonical')
    assert.deepEqual(padded.passed, piece(0))
  })
})
