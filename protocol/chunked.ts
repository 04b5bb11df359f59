import { PixstoreError } from './errors'
/**
 * The chunked payload: an image encrypted as a sequence of records, so a
 * reader can authenticate and pass on each 16 KiB as it arrives instead of
 * waiting for one tag at the end of the whole image (issue 17). Modelled on
 * RFC 8188 (aes128gcm), with the key and iv taken from the image's record.
 * Pure: no Node, no DOM; the AES-GCM and HKDF calls live in
 * `server/chunkedCrypto.ts` (node:crypto) and `sw/streamDecrypt.ts` (WebCrypto),
 * which both use the framing and the rules below, and both check the fixed
 * vectors of `protocol/chunkedVectors.ts`.
 *
 * Format, version 1:
 *
 * - Plaintext P: `[format byte][image bytes]`, exactly what the whole-image
 *   ciphertext of today's wire covers (`frameImage`). Length L >= 0.
 * - Records: P is cut into n = max(1, ceil(L / 16384)) pieces; every piece is
 *   exactly 16384 bytes (CHUNKED_RECORD_BYTES) except the last, which has
 *   1..16384 bytes (0 only when L = 0: one empty record). The size is fixed by
 *   the format, not carried: there is no header. So the encoding of a given
 *   (key, iv, P) is unique, and P's length is known from the payload's.
 *   Why 16 KiB: a reader passes nothing of a record on before its last byte
 *   arrived, so the record is how far the picture lags the network (13 ms at
 *   10 Mbit/s; 64 KiB records lagged 52 ms, and the decoder then needed a
 *   second record for its first paint: first pixels 2.0x plain's against
 *   1.5x, bench row 4qa). Smaller is not better for the first record: it is
 *   the first piece the `<img>` gets, and Chromium leaves an image blank for
 *   a second when the piece that reveals its size holds no whole row of
 *   pixels (see sw/chunkedAnswer.ts). 16 KiB holds the first rows of a
 *   2000x1333 baseline photo, where 4 KiB did not (its first paint then
 *   waited a second in 9 of 10 rounds; bench rows 4sa-4sb); the bench's
 *   6000-pixel-wide baseline JPEG needs more than 16 KiB for a row either
 *   way. It is TLS's largest record too. The price, 17 bytes and one AES-GCM
 *   call per record, is about 1 ms of CPU per MB either way
 *   (bench/chunkedCryptoCost.ts).
 * - Record i (0-based) on the wire: AES-256-GCM(recordKey, nonce_i,
 *   piece_i || delimiter_i) followed by its 16-byte tag, no associated data.
 *   delimiter = 0x01 for every record but the last, 0x02 for the last (RFC
 *   8188's padding delimiter, without padding: it is the final plaintext byte).
 *   A full record is 16384 + 1 + 16 = 16401 bytes; the payload is L + 17n bytes.
 * - recordKey = HKDF-SHA-256(IKM = image key (32 bytes), salt = image iv
 *   (12 bytes), info = "Pixstore chunked v1 record key", 32 bytes). The
 *   whole-image ciphertext uses (key, iv) with AES-GCM directly; records never
 *   do, so no (key, nonce) pair ever serves two messages, and both forms of a
 *   version can exist side by side.
 * - nonce_i = iv XOR i as a 96-bit big-endian integer (i < 2^32, so only the
 *   last 4 bytes change): a record authenticates only at its own position.
 * - A reader accepts a payload only when: every record authenticates at its
 *   index; every record but the last is full and carries 0x01; the last carries
 *   0x02; no byte follows the last; the last is empty only when it is record 0.
 *   So truncation (mid-record or at a record boundary), reordering, duplication,
 *   extension, and records moved from another image or another version of the
 *   same image (another key and iv) all fail.
 *
 * Meta: a chunked answer keeps the record shape `meta.key/iv/tag`. key and iv
 * are the version's, and the record key and nonces derive from them. `tag` stays
 * the tag of the whole-image ciphertext of the same version (AES-GCM of P under
 * key and iv); the chunked payload does not use it (each record carries its own
 * tag), it travels so that a record learnt from a chunked Updated answer still
 * decrypts the whole-image form (Pixstore 3.x answers, a server without the
 * chunked form). Both forms are deterministic in (key, iv, P), so a server
 * holding either can regenerate the other, tag included.
 *
 * Fail closed: ChunkedRecordReader hands out a record's plaintext only after
 * it authenticated, nothing of a bad record or after it, and it holds the last
 * record's plaintext back until the end of the input proved nothing follows.
 */
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH } from './wire'

/** Plaintext bytes per record (the last may have fewer). Fixed by the format. */
export const CHUNKED_RECORD_BYTES = 16384
/** The delimiter byte ending every record's plaintext but the last. */
export const DELIMITER_MORE = 0x01
/** The delimiter byte ending the last record's plaintext. */
export const DELIMITER_LAST = 0x02
/** Wire bytes a record adds to its piece of plaintext: the delimiter and the tag. */
export const RECORD_OVERHEAD = 1 + TAG_LENGTH
/** Wire bytes of a full record. */
export const SEALED_RECORD_BYTES = CHUNKED_RECORD_BYTES + RECORD_OVERHEAD
/** Records are indexed by a 32-bit counter in the nonce: 256 TiB of plaintext, far beyond any image. */
export const MAX_RECORDS = 2 ** 32
/** HKDF-SHA-256 info for the record key (ASCII). */
export const RECORD_KEY_INFO: Uint8Array = new TextEncoder().encode('Pixstore chunked v1 record key')

export type ChunkedPayloadErrorCode =
  /** A record does not authenticate at its position under this image's key and iv. */
  | 'Authentication'
  /** The payload ends before its last record (mid-record, or after a record not marked last). */
  | 'Truncated'
  /** Bytes follow the record marked last. */
  | 'TrailingData'
  /** A record's delimiter is neither 0x01 nor 0x02. */
  | 'BadDelimiter'
  /** A valid-looking encoding this format never produces (an empty last record after a full one). */
  | 'NonCanonical'
  /** More records than the nonce counter allows. */
  | 'TooLong'
  /** A key or iv of the wrong length. */
  | 'BadMeta'

/** A chunked payload that is not one whole, authentic image (`reason`: how). Never a partial result. */
export class ChunkedPayloadError extends PixstoreError {
  override name = 'ChunkedPayloadError'
  constructor(
    readonly reason: ChunkedPayloadErrorCode,
    message: string,
  ) {
    super(message, 'ERR_CHUNKED_PAYLOAD')
  }
}

/** Records of a plaintext of `plaintextLength` bytes: at least one. */
export function chunkedRecordCount(plaintextLength: number): number {
  if (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0) throw new RangeError(`plaintext length must be a safe non-negative integer, got ${plaintextLength}`)
  return Math.max(1, Math.ceil(plaintextLength / CHUNKED_RECORD_BYTES))
}

/** Wire bytes of the chunked payload of a plaintext of `plaintextLength` bytes (for Content-Length). */
export function chunkedPayloadLength(plaintextLength: number): number {
  return plaintextLength + RECORD_OVERHEAD * chunkedRecordCount(plaintextLength)
}

/**
 * The plaintext length a payload of `payloadLength` bytes carries, or
 * ChunkedPayloadError('Truncated') when no valid payload has that length (a
 * worker can set a streamed answer's Content-Length from the payload's).
 */
export function chunkedPlaintextLength(payloadLength: number): number {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) throw new RangeError(`payload length must be a safe non-negative integer, got ${payloadLength}`)
  const full = Math.floor(payloadLength / SEALED_RECORD_BYTES)
  const rest = payloadLength % SEALED_RECORD_BYTES
  if (rest === 0 && full > 0) return full * CHUNKED_RECORD_BYTES
  // A short last record has 1..16383 bytes of plaintext, or 0 when it is the only record.
  if (rest > RECORD_OVERHEAD || (rest === RECORD_OVERHEAD && full === 0)) return full * CHUNKED_RECORD_BYTES + rest - RECORD_OVERHEAD
  throw new ChunkedPayloadError('Truncated', `${payloadLength} bytes is no chunked payload's length`)
}

/** nonce_i = iv XOR i (96-bit big-endian). */
export function recordNonce(iv: Uint8Array, index: number): Uint8Array<ArrayBuffer> {
  if (iv.length !== IV_LENGTH) throw new ChunkedPayloadError('BadMeta', `iv must be ${IV_LENGTH} bytes, got ${iv.length}`)
  if (!Number.isInteger(index) || index < 0 || index >= MAX_RECORDS) throw new ChunkedPayloadError('TooLong', `record index ${index} is outside 0..2^32-1`)
  const nonce = Uint8Array.from(iv)
  const view = new DataView(nonce.buffer)
  view.setUint32(IV_LENGTH - 4, (view.getUint32(IV_LENGTH - 4, false) ^ index) >>> 0, false)
  return nonce
}

/** Checks the lengths of the meta the record key and nonces derive from. */
export function checkChunkedMeta(meta: { key: Uint8Array; iv: Uint8Array }): void {
  if (meta.key.length !== KEY_LENGTH) throw new ChunkedPayloadError('BadMeta', `key must be ${KEY_LENGTH} bytes, got ${meta.key.length}`)
  if (meta.iv.length !== IV_LENGTH) throw new ChunkedPayloadError('BadMeta', `iv must be ${IV_LENGTH} bytes, got ${meta.iv.length}`)
}

/** One sealed record (ciphertext and tag) as read from the payload. */
export interface SealedRecord {
  index: number
  /** Ciphertext of piece and delimiter, then the 16-byte tag. */
  sealed: Uint8Array
  /** The payload ended inside what would have been a full record: this must be the last record. */
  short: boolean
}

/**
 * Framing and the acceptance rules of a chunked payload, without the cipher:
 * the Node and the browser reader both run it, so they accept exactly the same
 * payloads. Bytes go in by `push` in chunks of any size, records come out by
 * `next`, each is opened by the caller (AES-GCM at `nonce_i`) and handed to
 * `accept`, which returns the plaintext to pass on. At the end of the input,
 * `end` gives the short last record if any, and `finish` the held-back last
 * plaintext. It keeps at most one incomplete record plus the unread part of
 * the chunk last pushed. Pushed chunks are read in place (a record inside one
 * chunk is a view of it), so they must not change until their records are opened.
 */
export class ChunkedRecordReader {
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private nextIndex = 0
  private lastSeen = false
  private ended = false
  private heldLast: Uint8Array | null = null

  /** Bytes buffered that belong to no record handed out yet. */
  get bufferedBytes(): number {
    return this.pendingBytes
  }

  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('push after end')
    if (chunk.length === 0) return
    if (this.lastSeen) throw new ChunkedPayloadError('TrailingData', `bytes follow the last record (record ${this.nextIndex - 1})`)
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
  }

  /** The next full-size record, or null until more bytes arrive. */
  next(): SealedRecord | null {
    if (this.lastSeen && this.pendingBytes > 0) throw new ChunkedPayloadError('TrailingData', `bytes follow the last record (record ${this.nextIndex - 1})`)
    if (this.pendingBytes < SEALED_RECORD_BYTES) return null
    return this.take(SEALED_RECORD_BYTES, false)
  }

  /** At the end of the input: the short last record, if the payload does not end on a record boundary. */
  end(): SealedRecord | null {
    this.ended = true
    if (this.pendingBytes >= SEALED_RECORD_BYTES) throw new Error('end before every full record was taken with next()')
    if (this.pendingBytes === 0) return null
    if (this.lastSeen) throw new ChunkedPayloadError('TrailingData', `bytes follow the last record (record ${this.nextIndex - 1})`)
    if (this.pendingBytes < RECORD_OVERHEAD) {
      throw new ChunkedPayloadError('Truncated', `the payload ends ${this.pendingBytes} bytes into record ${this.nextIndex}, too few for any record`)
    }
    return this.take(this.pendingBytes, true)
  }

  /**
   * Checks an opened record (its plaintext, delimiter included) against the
   * order rules and returns the bytes to pass on now: the piece of a record
   * that is not the last, nothing for the last (see finish).
   */
  accept(record: SealedRecord, opened: Uint8Array): Uint8Array | null {
    if (record.index !== this.nextIndex - 1) throw new Error(`accept record ${record.index}, expected ${this.nextIndex - 1}`)
    if (this.lastSeen) throw new ChunkedPayloadError('TrailingData', `record ${record.index} follows the last record`)
    if (opened.length !== record.sealed.length - TAG_LENGTH) throw new Error('opened record has the wrong length')
    const delimiter = opened[opened.length - 1]
    const piece = opened.subarray(0, opened.length - 1)
    if (delimiter === DELIMITER_MORE) {
      if (record.short) throw new ChunkedPayloadError('Truncated', `the payload ends inside record ${record.index}, which is not marked last`)
      return piece
    }
    if (delimiter !== DELIMITER_LAST) throw new ChunkedPayloadError('BadDelimiter', `record ${record.index} ends with delimiter ${delimiter ?? 'none'}`)
    if (piece.length === 0 && record.index > 0) throw new ChunkedPayloadError('NonCanonical', `record ${record.index} is an empty last record after a full one`)
    this.lastSeen = true
    this.heldLast = piece
    return null
  }

  /** After end (and accepting its record): the last record's plaintext, once nothing followed it. */
  finish(): Uint8Array {
    if (!this.ended) throw new Error('finish before end')
    if (!this.lastSeen || !this.heldLast) {
      throw new ChunkedPayloadError('Truncated', this.nextIndex === 0 ? 'the payload has no record' : `the payload ends after record ${this.nextIndex - 1}, which is not marked last`)
    }
    const last = this.heldLast
    this.heldLast = null
    return last
  }

  private take(length: number, short: boolean): SealedRecord {
    if (this.nextIndex >= MAX_RECORDS) throw new ChunkedPayloadError('TooLong', `more than ${MAX_RECORDS} records`)
    const first = this.pending[0]!
    let sealed: Uint8Array
    if (first.length >= length) {
      sealed = first.subarray(0, length)
      if (first.length === length) this.pending.shift()
      else this.pending[0] = first.subarray(length)
    } else {
      sealed = new Uint8Array(length)
      let filled = 0
      while (filled < length) {
        const chunk = this.pending[0]!
        const part = chunk.subarray(0, length - filled)
        sealed.set(part, filled)
        filled += part.length
        if (part.length === chunk.length) this.pending.shift()
        else this.pending[0] = chunk.subarray(part.length)
      }
    }
    this.pendingBytes -= length
    return { index: this.nextIndex++, sealed, short }
  }
}
