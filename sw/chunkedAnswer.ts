import { chunkedPlaintextLength } from '../protocol/chunked'
import { imageFormatByByte, ImageFrameError, type ImageFormat } from '../protocol/formats'
import { ChunkedState, decodeWireHead, PixstoreState, WireDecodeError, type PixstoreStateCode, type RawImageMeta } from '../protocol/wire'
import { createDecryptStream } from './streamDecrypt'

/** What an endpoint answered to a request that asked for chunked answers. */
export type OpenedAnswer =
  /** A one-byte state (NotFound, InvalidProof, ...). */
  | { kind: 'failure'; state: Exclude<PixstoreStateCode, 0 | 1> }
  /** A whole-image answer (a server that does not speak chunked, such as Pixstore 3.x): the whole payload, for today's decoder. */
  | { kind: 'whole'; payload: Uint8Array }
  /** A chunked answer, being decrypted as it arrives. */
  | {
      kind: 'chunked'
      /** ChunkedUpdated's token and meta, or null for ChunkedSuccess (the record's meta applies). */
      updated: { token: number; meta: RawImageMeta } | null
      format: ImageFormat
      /** The image's length in bytes when the body's length was known, for Content-Length. */
      imageLength: number | null
      /**
       * The image bytes, format byte removed, each record's once it
       * authenticated. Errors (ChunkedPayloadError, or the network's error)
       * instead of ending when the payload is not whole and authentic; it
       * ends only once the last record authenticated. Cancelling it cancels
       * the body.
       */
      image: ReadableStream<Uint8Array>
    }

/**
 * Reads the head of an answer body as it arrives and, for a chunked answer,
 * returns once the first record authenticated: the format byte then gives the
 * image's type, and the rest streams on (the worker can answer the `<img>` at
 * once). Holds at most the head, one incomplete record and the chunk being
 * read. Throws WireDecodeError (not a Pixstore answer), ChunkedPayloadError
 * (the first record does not authenticate), ImageFrameError (no known format
 * byte, or no image bytes), or the body's own error. `bodyLength` is the
 * answer's Content-Length when known. `body` may also be the whole answer
 * already read (a small one, see fetchImage): a whole-image answer is then
 * handed back as it is, without a stream in between.
 */
export async function openImageAnswer(body: ReadableStream<Uint8Array> | Uint8Array, recordMeta: RawImageMeta, bodyLength: number | null = null): Promise<OpenedAnswer> {
  if (body instanceof Uint8Array) {
    if (body.length > 1 && (body[0] === PixstoreState.Success || body[0] === PixstoreState.Updated)) return { kind: 'whole', payload: body }
    const bytes = body
    body = new ReadableStream<Uint8Array>({ start: (controller) => (bytes.length > 0 && controller.enqueue(bytes), controller.close()) })
  }
  const reader = body.getReader()
  try {
    let prefix: Uint8Array = new Uint8Array(0)
    let decoded = decodeWireHead(prefix)
    while (!decoded) {
      const { done, value } = await reader.read()
      if (done) throw new WireDecodeError(prefix.length === 0 ? 'Empty' : 'Truncated', `answer ends after ${prefix.length} bytes, inside its head`)
      prefix = join(prefix, value)
      decoded = decodeWireHead(prefix)
    }
    const { head, length: headLength } = decoded
    const rest = prefix.subarray(headLength)
    switch (head.state) {
      case PixstoreState.Success:
      case PixstoreState.Updated:
        return { kind: 'whole', payload: await readToEnd(reader, prefix) }
      case ChunkedState.ChunkedSuccess:
      case ChunkedState.ChunkedUpdated: {
        const updated = head.state === ChunkedState.ChunkedUpdated ? { token: head.token, meta: head.meta } : null
        if (bodyLength !== null && bodyLength < headLength) throw new WireDecodeError('Truncated', `a ${bodyLength}-byte answer cannot hold its ${headLength}-byte head`)
        const imageLength = bodyLength === null ? null : chunkedPlaintextLength(bodyLength - headLength) - 1
        return { kind: 'chunked', updated, imageLength, ...(await openImage(reader, rest, updated?.meta ?? recordMeta)) }
      }
      default: {
        // Nothing may follow; the first byte that does ends the read (no unbounded buffering).
        let extra = rest.length
        while (extra === 0) {
          const { done, value } = await reader.read()
          if (done) return { kind: 'failure', state: head.state }
          extra = value.length
        }
        throw new WireDecodeError('TrailingBytes', `state ${head.state} must be one byte, more followed`)
      }
    }
  } catch (error) {
    reader.cancel(error).catch(() => {})
    throw error
  }
}

/**
 * The records (what followed the head, then the rest of the body) through the
 * decrypt stream; the format byte split off the first plaintext. The `<img>`
 * gets the first record's 16 KiB in one piece, never cut smaller: Chromium
 * updates a loading image at once only until it knows the image's size, then
 * at most once a second, so a first piece with the size but no whole row of
 * pixels leaves the image blank for a second (plain `<img>` tags over a paced
 * link, fed a TCP segment at a time, did so in 3 to 8 of 15 rounds of six
 * bench runs; Pixstore never: bench rows 4qa, 4qm, 4qn). On the bench's
 * progressive JPEG that costs the median first paint the 13 ms a 16 KiB
 * record takes at 10 Mbit/s, and keeps the second-long waits out of the
 * mean (row 4qo).
 */
async function openImage(body: ReadableStreamDefaultReader<Uint8Array>, afterHead: Uint8Array, meta: RawImageMeta): Promise<{ format: ImageFormat; image: ReadableStream<Uint8Array> }> {
  const plaintext = continued(afterHead, body).pipeThrough(createDecryptStream(meta)).getReader()
  const first = await plaintext.read()
  const firstBytes = first.done ? new Uint8Array(0) : first.value
  const format = firstBytes.length > 0 ? imageFormatByByte(firstBytes[0]!) : undefined
  if (firstBytes.length < 2 || !format) {
    const error = new ImageFrameError(firstBytes.length === 0 ? 'Decrypted image is empty' : format ? 'Decrypted image has no bytes after its format byte' : `Unknown image format byte ${firstBytes[0]}`)
    plaintext.cancel(error).catch(() => {})
    throw error
  }
  return { format, image: continued(firstBytes.subarray(1), plaintext) }
}

/** `first`, then what `rest` still holds, read only as the consumer pulls; cancelling it cancels `rest`. */
function continued(first: Uint8Array, rest: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (first.length > 0) controller.enqueue(first)
      },
      async pull(controller) {
        const { done, value } = await rest.read()
        if (done) controller.close()
        else controller.enqueue(value)
      },
      cancel: (reason) => rest.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}

/**
 * The rest of the body after `prefix`, as one array. An answer that came as
 * one chunk (a 100 KB image usually does) is that chunk, not a copy, as the
 * earlier build's arrayBuffer() read made none either (a gallery's first
 * visit otherwise allocates and copies every image once more).
 */
async function readToEnd(reader: ReadableStreamDefaultReader<Uint8Array>, prefix: Uint8Array): Promise<Uint8Array> {
  const parts = [prefix]
  let length = prefix.length
  for (let result = await reader.read(); !result.done; result = await reader.read()) {
    parts.push(result.value)
    length += result.value.length
  }
  if (parts.length === 1) return prefix
  const out = new Uint8Array(length)
  parts.reduce((at, part) => (out.set(part, at), at + part.length), 0)
  return out
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
