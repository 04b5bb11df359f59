import { checkChunkedMeta, ChunkedPayloadError, ChunkedRecordReader, RECORD_KEY_INFO, recordNonce, type SealedRecord } from '../protocol/chunked'
import { KEY_LENGTH, TAG_LENGTH } from '../protocol/wire'

/**
 * A chunked payload (protocol/chunked.ts) in, the image's plaintext out, a
 * record at a time, with WebCrypto: the worker can hand an `<img>` the first
 * record (16 KiB) while the rest is still on the network. Network chunks may split
 * records anywhere. Fails closed: a record that does not authenticate at its
 * position, a payload cut short, a missing or misplaced last mark or bytes
 * after it error the stream with a ChunkedPayloadError, and nothing of the bad
 * record or after it is passed on (the last record's plaintext waits for the
 * end of the input). The plaintext is `[format byte][image]`, as the
 * whole-image form's. Memory: one incomplete record, the chunk being read and
 * the record being opened; the readable side's backpressure stops the writes.
 */
export function createDecryptStream(meta: { key: Uint8Array; iv: Uint8Array }): TransformStream<Uint8Array, Uint8Array> {
  checkChunkedMeta(meta)
  const iv = Uint8Array.from(meta.iv)
  const recordKey = deriveRecordKey(Uint8Array.from(meta.key), iv)
  // Kept from failing unobserved before the first chunk; transform/flush await it and see the error.
  recordKey.catch(() => {})
  const reader = new ChunkedRecordReader()

  async function open(record: SealedRecord): Promise<Uint8Array> {
    try {
      const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: recordNonce(iv, record.index), tagLength: TAG_LENGTH * 8 }, await recordKey, record.sealed as Uint8Array<ArrayBuffer>)
      return new Uint8Array(opened)
    } catch (error) {
      throw new ChunkedPayloadError('Authentication', `record ${record.index} does not authenticate (${error instanceof Error ? error.name : String(error)})`)
    }
  }

  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      reader.push(chunk)
      for (let record = reader.next(); record; record = reader.next()) {
        const piece = reader.accept(record, await open(record))
        if (piece && piece.length > 0) controller.enqueue(piece)
      }
    },
    async flush(controller) {
      const tail = reader.end()
      if (tail) reader.accept(tail, await open(tail))
      const last = reader.finish()
      if (last.length > 0) controller.enqueue(last)
    },
  })
}

/** HKDF-SHA-256(image key, salt iv, info "Pixstore chunked v1 record key") as a non-extractable AES-GCM key. */
async function deriveRecordKey(key: Uint8Array<ArrayBuffer>, iv: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', key, 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: iv, info: RECORD_KEY_INFO as Uint8Array<ArrayBuffer> },
    base,
    { name: 'AES-GCM', length: KEY_LENGTH * 8 },
    false,
    ['decrypt'],
  )
}
