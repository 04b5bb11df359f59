import { Readable } from 'node:stream'
import { chunkedPayloadLength, SEALED_RECORD_BYTES } from '../protocol/chunked'
import { ChunkedState, encodeWireHead, type RawImageMeta } from '../protocol/wire'
import { transcodeToChunked } from './chunkedCrypto'

/**
 * Below this much plaintext (16 records) a client that asked for chunked
 * answers still gets the whole form: such an image arrives in about the time
 * one takes to render (0.2 s at 10 Mbit/s), and the whole form costs no
 * transcoding and no stream through the worker (openImageAnswer reads both;
 * the 24 x 100 KB page loads of the bench stay as they were). Above it, what
 * the `<img>` shows while the rest arrives is worth the ~1 ms of CPU per MB.
 */
export const CHUNKED_MIN_PLAINTEXT = 256 * 1024

/** One whole-image ciphertext as read for an answer (a shared buffer or its file's stream). */
export interface WholeCiphertext {
  body: Buffer | Readable
  length: number
}

/**
 * The chunked answer for a version stored in the whole-image form: the
 * ChunkedSuccess head (ChunkedUpdated with `updatedToken`), and records made
 * from the stored ciphertext as the socket takes them (transcodeToChunked:
 * one record of plaintext at a time, one record buffered ahead, so memory
 * per connection stays bounded whatever the image's size; the file is read
 * only as fast as the client reads). `meta` carries the unwrapped key.
 * A stored ciphertext that does not authenticate ends the body with an error
 * before the last record: the client sees a truncated payload and fails closed.
 */
export function chunkedAnswer(whole: WholeCiphertext, meta: RawImageMeta, updatedToken: number | null): { head: Uint8Array; body: Readable; length: number } {
  const head = encodeWireHead(updatedToken === null ? { state: ChunkedState.ChunkedSuccess } : { state: ChunkedState.ChunkedUpdated, token: updatedToken, meta })
  const source = whole.body instanceof Readable ? whole.body : [whole.body]
  const body = Readable.from(transcodeToChunked(meta, source), { objectMode: false, highWaterMark: SEALED_RECORD_BYTES })
  return { head, body, length: head.length + chunkedPayloadLength(whole.length) }
}
