import { createCipheriv, createDecipheriv, hkdfSync, type CipherGCM } from 'node:crypto'
import {
  checkChunkedMeta,
  CHUNKED_RECORD_BYTES,
  ChunkedPayloadError,
  ChunkedRecordReader,
  DELIMITER_LAST,
  DELIMITER_MORE,
  RECORD_KEY_INFO,
  recordNonce,
  type SealedRecord,
} from '../protocol/chunked'
import { PixstoreError } from '../protocol/errors'
import { KEY_LENGTH, TAG_LENGTH, type RawImageMeta } from '../protocol/wire'

const ALGORITHM = 'aes-256-gcm'
const MORE = Uint8Array.of(DELIMITER_MORE)
const LAST = Uint8Array.of(DELIMITER_LAST)

/** The chunked payload's own key: HKDF-SHA-256 of the image key, salted with its iv (protocol/chunked.ts). */
export function chunkedRecordKey(key: Uint8Array, iv: Uint8Array): Buffer {
  checkChunkedMeta({ key, iv })
  return Buffer.from(hkdfSync('sha256', key, iv, RECORD_KEY_INFO, KEY_LENGTH))
}

/**
 * Encrypts a plaintext given a piece at a time into the chunked payload, for
 * a save that writes as it encrypts or a transcoder that reads the
 * whole-image form. A record's bytes are handed out as they are encrypted;
 * only its delimiter and tag wait until it is known whether more plaintext
 * follows. Output pieces are fresh Buffers in payload order (write them as
 * they come; record boundaries are implied by the fixed record size).
 */
export class ChunkedEncryptor {
  private readonly recordKey: Buffer
  private index = 0
  private cipher: CipherGCM | null = null
  private filled = 0
  private ended = false

  constructor(
    key: Uint8Array,
    private readonly iv: Uint8Array,
  ) {
    this.recordKey = chunkedRecordKey(key, iv)
  }

  push(plaintext: Uint8Array): Buffer[] {
    if (this.ended) throw new Error('push after end')
    const out: Buffer[] = []
    for (let at = 0; at < plaintext.length; ) {
      // A full record is closed only now that more plaintext is known to follow.
      if (this.cipher && this.filled === CHUNKED_RECORD_BYTES) out.push(...this.close(MORE))
      const cipher = (this.cipher ??= this.open())
      const take = Math.min(CHUNKED_RECORD_BYTES - this.filled, plaintext.length - at)
      out.push(cipher.update(plaintext.subarray(at, at + take)))
      this.filled += take
      at += take
    }
    return out
  }

  /** The rest of the last record: its delimiter 0x02 and tag (an empty plaintext gives one empty record). */
  end(): Buffer[] {
    if (this.ended) throw new Error('end called twice')
    this.ended = true
    this.cipher ??= this.open()
    return this.close(LAST)
  }

  private open(): CipherGCM {
    return createCipheriv(ALGORITHM, this.recordKey, recordNonce(this.iv, this.index), { authTagLength: TAG_LENGTH })
  }

  private close(delimiter: Uint8Array): Buffer[] {
    const cipher = this.cipher!
    const out = [cipher.update(delimiter), cipher.final(), cipher.getAuthTag()]
    this.cipher = null
    this.filled = 0
    this.index++
    return out.filter((part) => part.length > 0)
  }
}

/** The whole chunked payload of a plaintext (given whole or in parts, e.g. format byte and image). */
export function encryptChunked(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array | readonly Uint8Array[]): Buffer {
  const encryptor = new ChunkedEncryptor(key, iv)
  const out: Buffer[] = []
  for (const part of plaintext instanceof Uint8Array ? [plaintext] : plaintext) out.push(...encryptor.push(part))
  out.push(...encryptor.end())
  return Buffer.concat(out)
}

/**
 * One record sealed with a given plaintext, delimiter included: the building
 * block of the encryptor, exported so tests can build payloads this format
 * forbids (a wrong mark, an empty last record) and see the readers refuse them.
 */
export function sealRecord(recordKey: Uint8Array, iv: Uint8Array, index: number, plaintextWithDelimiter: Uint8Array): Buffer {
  const cipher = createCipheriv(ALGORITHM, recordKey, recordNonce(iv, index), { authTagLength: TAG_LENGTH })
  return Buffer.concat([cipher.update(plaintextWithDelimiter), cipher.final(), cipher.getAuthTag()])
}

function openRecord(recordKey: Buffer, iv: Uint8Array, record: SealedRecord): Buffer {
  const tagAt = record.sealed.length - TAG_LENGTH
  try {
    const decipher = createDecipheriv(ALGORITHM, recordKey, recordNonce(iv, record.index), { authTagLength: TAG_LENGTH })
    decipher.setAuthTag(record.sealed.subarray(tagAt))
    // update() releases unauthenticated bytes: they stay here until final() has checked the tag.
    const opened = decipher.update(record.sealed.subarray(0, tagAt))
    decipher.final()
    return opened
  } catch (error) {
    throw new ChunkedPayloadError('Authentication', `record ${record.index} does not authenticate (${error instanceof Error ? error.message : String(error)})`)
  }
}

/** Opens every complete record the reader holds, yielding each one's plaintext as soon as it authenticated. */
function* openReady(reader: ChunkedRecordReader, recordKey: Buffer, iv: Uint8Array): Generator<Uint8Array> {
  for (let record = reader.next(); record; record = reader.next()) {
    const piece = reader.accept(record, openRecord(recordKey, iv, record))
    if (piece && piece.length > 0) yield piece
  }
}

/** At the end of the input: opens the short last record if any; returns the held-back last plaintext. */
function openLast(reader: ChunkedRecordReader, recordKey: Buffer, iv: Uint8Array): Uint8Array {
  const tail = reader.end()
  if (tail) reader.accept(tail, openRecord(recordKey, iv, tail))
  return reader.finish()
}

/**
 * Decrypts a chunked payload that arrives in pieces of any size (a file read
 * stream, say), yielding each record's plaintext once it authenticated. Fails
 * closed with ChunkedPayloadError: nothing of a bad record or after it is
 * yielded, and the last record only once the input ended right after it.
 * Holds at most one incomplete record besides the piece being read.
 */
export async function* decryptChunkedStream(meta: { key: Uint8Array; iv: Uint8Array }, payload: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const recordKey = chunkedRecordKey(meta.key, meta.iv)
  const reader = new ChunkedRecordReader()
  for await (const piece of payload) {
    reader.push(piece)
    yield* openReady(reader, recordKey, meta.iv)
  }
  const last = openLast(reader, recordKey, meta.iv)
  if (last.length > 0) yield last
}

/** The whole plaintext of a chunked payload held in memory; throws ChunkedPayloadError. */
export function decryptChunked(payload: Uint8Array, meta: { key: Uint8Array; iv: Uint8Array }): Buffer {
  const recordKey = chunkedRecordKey(meta.key, meta.iv)
  const reader = new ChunkedRecordReader()
  reader.push(payload)
  const out = [...openReady(reader, recordKey, meta.iv)]
  out.push(openLast(reader, recordKey, meta.iv))
  return Buffer.concat(out)
}

/**
 * The chunked payload of a version stored in the whole-image form, made while
 * the stored ciphertext streams in (a server that keeps one form per version).
 * The whole-image tag is checked before the last record is completed: a stored
 * ciphertext that does not authenticate (damaged or altered on disk) ends in
 * PixstoreError ERR_IMAGE_DAMAGED before the last record's delimiter and tag,
 * so a reader of what was sent fails closed on a truncated payload. Until then
 * the records it passed on carry whatever the disk held; storing the chunked
 * form itself avoids even that. Holds one record of plaintext at a time,
 * whatever the size of the pieces `whole` comes in.
 */
export async function* transcodeToChunked(meta: RawImageMeta, whole: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
  const decipher = createDecipheriv(ALGORITHM, meta.key, meta.iv, { authTagLength: TAG_LENGTH })
  decipher.setAuthTag(meta.tag)
  const encryptor = new ChunkedEncryptor(meta.key, meta.iv)
  for await (const piece of whole) {
    // A record's worth at a time, each handed out before the next is read: a
    // whole cached version (one Buffer) costs a record of memory, not two
    // copies of the image, and its first record leaves at once.
    for (let at = 0; at < piece.length; at += CHUNKED_RECORD_BYTES) yield* encryptor.push(decipher.update(piece.subarray(at, at + CHUNKED_RECORD_BYTES)))
  }
  try {
    decipher.final()
  } catch {
    throw new PixstoreError('The stored ciphertext does not authenticate with its key, iv and tag', 'ERR_IMAGE_DAMAGED')
  }
  yield* encryptor.end()
}
