/**
 * Every way a chunked payload can go wrong, built once with the Node writer
 * and run against both readers (server/chunkedCrypto.test.ts,
 * sw/streamDecrypt.test.ts), each case with what the reader must say and how
 * much authentic plaintext it may have passed on before saying it.
 */
import assert from 'node:assert/strict'
import { CHUNKED_RECORD_BYTES, ChunkedPayloadError, ChunkedRecordReader, DELIMITER_LAST, DELIMITER_MORE, type ChunkedPayloadErrorCode } from '../protocol/chunked'
import { vectorPlaintext } from '../protocol/chunkedVectors'
import { chunkedRecordKey, decryptChunkedStream, encryptChunked, sealRecord } from '../server/chunkedCrypto'

const RS = CHUNKED_RECORD_BYTES

export interface ChunkedMeta {
  key: Uint8Array
  iv: Uint8Array
}

export interface TamperCase {
  name: string
  payload: Uint8Array
  meta: ChunkedMeta
  code: ChunkedPayloadErrorCode
  /** The reader must have passed on exactly this many bytes of `plaintext` (authentic whole records) before failing. */
  passedBytes: number
  plaintext: Uint8Array
}

const metaOf = (seed: number): ChunkedMeta => ({ key: vectorPlaintext(32, seed), iv: vectorPlaintext(12, seed + 1) })
const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts))

/**
 * The sealed records of a payload (each a view of it), cut by the format's
 * own framing (ChunkedRecordReader), not by offsets written here: what record
 * i's bytes are follows protocol/chunked.ts whatever record sizes it sets.
 * Nothing is decrypted; the payload must end in a record (a whole payload).
 */
export function payloadRecords(payload: Uint8Array): Uint8Array[] {
  const reader = new ChunkedRecordReader()
  reader.push(payload)
  const records: Uint8Array[] = []
  for (let record = reader.next(); record; record = reader.next()) records.push(record.sealed)
  const short = reader.end()
  if (short) records.push(short.sealed)
  return records
}

/**
 * Each record's plaintext (its delimiter removed), in record order, from an
 * authentic payload: what a test re-seals with another delimiter.
 */
export async function recordPlaintexts(payload: Uint8Array, meta: ChunkedMeta): Promise<Uint8Array[]> {
  const pieces: Uint8Array[] = []
  // One push: the reader hands out every record's plaintext as its own piece, the last one after the end.
  for await (const piece of decryptChunkedStream(meta, [payload])) pieces.push(piece)
  const count = payloadRecords(payload).length
  if (pieces.length !== count) throw new Error(`${pieces.length} plaintext pieces for ${count} records (an empty record?)`)
  return pieces
}

/** A copy of `bytes` with one bit of byte `at` flipped. */
export function flipBit(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[at]! ^= 0x10
  return copy
}

/** Record `index` sealed under `meta` around `piece` with any `delimiter`: a record a correct writer may never make. */
export function sealRecordAs(meta: ChunkedMeta, index: number, piece: Uint8Array, delimiter: number): Uint8Array {
  return sealRecord(chunkedRecordKey(meta.key, meta.iv), meta.iv, index, concat(piece, Uint8Array.of(delimiter)))
}

/** Seals `pieces` as records 0..n-1 with the given delimiters: payloads a correct writer never makes. */
function sealWith(meta: ChunkedMeta, pieces: Uint8Array[], delimiters: number[]): Uint8Array {
  return concat(...pieces.map((piece, i) => sealRecordAs(meta, i, piece, delimiters[i]!)))
}

export function tamperCases(): TamperCase[] {
  const a = metaOf(1)
  const b = metaOf(100)
  const aNext = metaOf(200) // the next version of image A: same plaintext, new key and iv
  const plaintext = vectorPlaintext(2 * RS + 1000, 7) // three records, the last short
  const other = vectorPlaintext(2 * RS + 1000, 8)
  const exact = vectorPlaintext(2 * RS, 9) // two full records
  const payload = encryptChunked(a.key, a.iv, plaintext)
  const exactPayload = encryptChunked(a.key, a.iv, exact)
  const otherImage = encryptChunked(b.key, b.iv, other)
  const otherVersion = encryptChunked(aNext.key, aNext.iv, plaintext)
  const [r0, r1, r2] = payloadRecords(payload) as [Uint8Array, Uint8Array, Uint8Array]
  const recordOf = (bytes: Uint8Array, index: number) => payloadRecords(bytes)[index]!
  const pieces = [plaintext.subarray(0, RS), plaintext.subarray(RS, 2 * RS), plaintext.subarray(2 * RS)]
  const exactPieces = [exact.subarray(0, RS), exact.subarray(RS)]
  const c = (name: string, bytes: Uint8Array, code: ChunkedPayloadErrorCode, passedBytes: number, options: { meta?: ChunkedMeta; plaintext?: Uint8Array } = {}): TamperCase => ({
    name,
    payload: bytes,
    meta: options.meta ?? a,
    code,
    passedBytes,
    plaintext: options.plaintext ?? plaintext,
  })
  return [
    c('empty payload (no record at all)', new Uint8Array(0), 'Truncated', 0),
    c('truncated: the last record dropped (cut at a record boundary)', concat(r0, r1), 'Truncated', 2 * RS),
    c('truncated: the last full record of an exact-multiple image dropped', recordOf(exactPayload, 0), 'Truncated', RS, { plaintext: exact }),
    c('truncated: cut inside the last record', payload.subarray(0, payload.length - 10), 'Authentication', 2 * RS),
    c('truncated: cut inside a middle record', concat(r0, r1.subarray(0, 1000)), 'Authentication', RS),
    c('truncated: cut leaving fewer bytes than a tag', concat(r0, r1, r2.subarray(0, 10)), 'Truncated', 2 * RS),
    c('reordered: records 0 and 1 swapped', concat(r1, r0, r2), 'Authentication', 0),
    c('reordered: the short last record moved first', concat(r2, r0, r1), 'Authentication', 0),
    c('duplicated: record 0 twice', concat(r0, r0, r1, r2), 'Authentication', RS),
    c('duplicated: the last record twice', concat(r0, r1, r2, r2), 'Authentication', 2 * RS),
    c('duplicated: the full last record of an exact-multiple image twice', concat(exactPayload, recordOf(exactPayload, 1)), 'TrailingData', RS, { plaintext: exact }),
    c('swapped between images: record 1 of another image', concat(r0, recordOf(otherImage, 1), r2), 'Authentication', RS),
    c('swapped between versions: record 1 of the next version of the same image', concat(r0, recordOf(otherVersion, 1), r2), 'Authentication', RS),
    c('swapped between versions: the whole payload of the next version read with the old meta', otherVersion, 'Authentication', 0),
    c('altered tag of record 1', concat(r0, flipBit(r1, r1.length - 1), r2), 'Authentication', RS),
    c('altered ciphertext byte of the last record', concat(r0, r1, flipBit(r2, 5)), 'Authentication', 2 * RS),
    c('wrong last mark: a middle record marked last, more records after it', sealWith(a, pieces, [DELIMITER_MORE, DELIMITER_LAST, DELIMITER_LAST]), 'TrailingData', RS),
    c('wrong last mark: record 0 marked last, then the rest', sealWith(a, pieces, [DELIMITER_LAST, DELIMITER_MORE, DELIMITER_LAST]), 'TrailingData', 0),
    c('wrong last mark: the short last record not marked last', sealWith(a, pieces, [DELIMITER_MORE, DELIMITER_MORE, DELIMITER_MORE]), 'Truncated', 2 * RS),
    c('wrong last mark: the full last record not marked last', sealWith(a, exactPieces, [DELIMITER_MORE, DELIMITER_MORE]), 'Truncated', 2 * RS, { plaintext: exact }),
    c('wrong last mark: a delimiter that is neither 1 nor 2', sealWith(a, pieces, [DELIMITER_MORE, 0x00, DELIMITER_LAST]), 'BadDelimiter', RS),
    c('an empty last record after a full one (a non-canonical encoding)', sealWith(a, [...exactPieces, new Uint8Array(0)], [DELIMITER_MORE, DELIMITER_MORE, DELIMITER_LAST]), 'NonCanonical', 2 * RS, { plaintext: exact }),
    c('one byte appended after a short last record', concat(payload, Uint8Array.of(0)), 'Authentication', 2 * RS),
    c('one byte appended after a full last record', concat(exactPayload, Uint8Array.of(0)), 'TrailingData', RS, { plaintext: exact }),
    c('another image key altogether', payload, 'Authentication', 0, { meta: b }),
  ]
}

/** Cuts `payload` into pieces of 1..maxPiece bytes from a seeded generator: network chunks that split records anywhere. */
export function splitPayload(payload: Uint8Array, seed: number, maxPiece: number): Uint8Array[] {
  let x = seed >>> 0 || 1
  const pieces: Uint8Array[] = []
  for (let at = 0; at < payload.length; ) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    const size = 1 + ((x >>> 0) % maxPiece)
    pieces.push(payload.subarray(at, at + size))
    at += size
  }
  return pieces
}

/** Asserts what a reader did with a tampering case: failed with its code, after passing on exactly the authentic records before the fault. */
export function assertFailedClosed(tamper: TamperCase, outcome: { passed: Uint8Array; error?: unknown }): void {
  const { passed, error } = outcome
  assert.ok(error instanceof ChunkedPayloadError, `fails with a ChunkedPayloadError, got ${error}`)
  assert.equal(error.reason, tamper.code, error.message)
  assert.equal(passed.length, tamper.passedBytes, 'passes on only the authentic records before the fault')
  assert.deepEqual(Buffer.from(passed), Buffer.from(tamper.plaintext.subarray(0, tamper.passedBytes)))
}
