import { chunkedPayloadLength, chunkedRecordCount, SEALED_RECORD_BYTES } from '../protocol/chunked'

/**
 * Where record `index` of the chunked payload of a `plaintextLength`-byte
 * plaintext lies in that payload, as [start, end): tests hold or alter an
 * answer at a record's bytes through this, never through a record size of
 * their own, so a change of the format's record sizes changes this one place.
 */
export function chunkedRecordRange(plaintextLength: number, index: number): { start: number; end: number } {
  const count = chunkedRecordCount(plaintextLength)
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`record ${index} of a ${count}-record payload`)
  const start = index * SEALED_RECORD_BYTES
  return { start, end: index === count - 1 ? chunkedPayloadLength(plaintextLength) : start + SEALED_RECORD_BYTES }
}
