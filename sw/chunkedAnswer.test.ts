import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CHUNKED_RECORD_BYTES, ChunkedPayloadError, SEALED_RECORD_BYTES } from '../protocol/chunked'
import { vectorPlaintext } from '../protocol/chunkedVectors'
import { frameImage, imageFormatByName, ImageFrameError } from '../protocol/formats'
import { ChunkedState, decodeWirePayload, encodeWireHead, encodeWirePayload, PixstoreState, WireDecodeError } from '../protocol/wire'
import { encryptChunked } from '../server/chunkedCrypto'
import { encryptWith } from '../server/crypto'
import { splitPayload } from '../testing/chunkedTampering'
import { openImageAnswer } from './chunkedAnswer'

const RS = CHUNKED_RECORD_BYTES
const metaOf = (seed: number) => ({ key: vectorPlaintext(32, seed), iv: vectorPlaintext(12, seed + 1), tag: vectorPlaintext(16, seed + 2) })
const recordMeta = metaOf(1)
const newMeta = metaOf(50)
const jpeg = imageFormatByName('jpeg')!
const image = vectorPlaintext(3 * RS + 500, 3)
const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts))

/**
 * A fetch body made of `pieces`, pulled one at a time. `gate` (a piece index)
 * holds the pieces from that one on until `release()`; `cancelled` tells
 * whether the reader gave the body up.
 */
function bodyOf(pieces: Uint8Array[], gate = Infinity) {
  let next = 0
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const state = { cancelled: false, pulled: 0 }
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (next === gate) await released
        if (next >= pieces.length) return controller.close()
        controller.enqueue(Uint8Array.from(pieces[next++]!))
        state.pulled = next
      },
      cancel() {
        state.cancelled = true
      },
    },
    { highWaterMark: 0 },
  )
  return { body, state, release }
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Buffer; error?: unknown }> {
  const parts: Uint8Array[] = []
  const reader = stream.getReader()
  try {
    for (let result = await reader.read(); !result.done; result = await reader.read()) parts.push(result.value)
    return { bytes: Buffer.concat(parts) }
  } catch (error) {
    return { bytes: Buffer.concat(parts), error }
  }
}

const chunkedAnswer = (head: Uint8Array, meta = recordMeta, plaintext = frameImage(jpeg, image)) => concat(head, encryptChunked(meta.key, meta.iv, plaintext))

describe('openImageAnswer', () => {
  it('opens a ChunkedSuccess answer with the record\'s meta: format, image length, and the image, whatever the network chunks (the head split too)', async () => {
    const answer = chunkedAnswer(encodeWireHead({ state: ChunkedState.ChunkedSuccess }))
    for (const pieces of [[answer], [answer.subarray(0, 1), answer.subarray(1)], splitPayload(answer, 5, 20000), [...splitPayload(answer.subarray(0, 40), 1, 1), answer.subarray(40)]]) {
      const opened = await openImageAnswer(bodyOf(pieces).body, recordMeta, answer.length)
      assert.equal(opened.kind, 'chunked')
      if (opened.kind !== 'chunked') return
      assert.deepEqual([opened.format.name, opened.imageLength, opened.updated], ['jpeg', image.length, null])
      const { bytes, error } = await readAll(opened.image)
      assert.equal(error, undefined)
      assert.deepEqual(bytes, Buffer.from(image))
    }
  })

  it('opens a ChunkedUpdated answer with the meta of its head, and returns the new token and meta', async () => {
    const answer = chunkedAnswer(encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 1234, meta: newMeta }), newMeta)
    const opened = await openImageAnswer(bodyOf(splitPayload(answer, 6, 10000)).body, recordMeta)
    assert.ok(opened.kind === 'chunked')
    assert.deepEqual(opened.updated, { token: 1234, meta: newMeta })
    assert.equal(opened.imageLength, null, 'no Content-Length given')
    assert.deepEqual((await readAll(opened.image)).bytes, Buffer.from(image))
  })

  it('resolves with the first record while the rest of the body has not arrived', async () => {
    const answer = chunkedAnswer(encodeWireHead({ state: ChunkedState.ChunkedSuccess }))
    const { body, state, release } = bodyOf([answer.subarray(0, 1 + SEALED_RECORD_BYTES), answer.subarray(1 + SEALED_RECORD_BYTES)], 1)
    const opened = await openImageAnswer(body, recordMeta)
    assert.ok(opened.kind === 'chunked')
    const reader = opened.image.getReader()
    const first = await reader.read()
    assert.deepEqual(first.value, image.subarray(0, RS - 1), 'the first record, format byte split off')
    assert.equal(state.pulled, 1, 'the second network piece is still held back')
    release()
    const rest: Uint8Array[] = []
    for (let result = await reader.read(); !result.done; result = await reader.read()) rest.push(result.value)
    assert.deepEqual(Buffer.concat(rest), Buffer.from(image.subarray(RS - 1)))
  })

  it('hands whole-image answers (a server without chunked answers, such as 3.x) back whole for today\'s decoder', async () => {
    const whole = encryptWith(Buffer.from(recordMeta.key), Buffer.from(recordMeta.iv), frameImage(jpeg, image))
    for (const payload of [
      encodeWirePayload({ state: PixstoreState.Success, ciphertext: whole.ciphertext }),
      encodeWirePayload({ state: PixstoreState.Updated, token: 7, meta: whole.meta, ciphertext: whole.ciphertext }),
    ]) {
      const opened = await openImageAnswer(bodyOf(splitPayload(payload, 7, 30000)).body, recordMeta)
      assert.equal(opened.kind, 'whole')
      assert.ok(opened.kind === 'whole')
      assert.deepEqual(opened.payload, payload)
      assert.equal(decodeWirePayload(opened.payload).state, payload[0])
    }
  })

  it('hands back a whole answer that arrived as one chunk without copying it', async () => {
    const whole = encryptWith(Buffer.from(recordMeta.key), Buffer.from(recordMeta.iv), frameImage(jpeg, image))
    const payload = encodeWirePayload({ state: PixstoreState.Success, ciphertext: whole.ciphertext })
    const chunk = Uint8Array.from(payload)
    const body = new ReadableStream<Uint8Array>({ start: (controller) => (controller.enqueue(chunk), controller.close()) })
    const opened = await openImageAnswer(body, recordMeta)
    assert.ok(opened.kind === 'whole')
    assert.deepEqual(opened.payload, payload)
    assert.equal(opened.payload.buffer, chunk.buffer, 'the chunk itself, not a copy')
  })

  it('opens an answer already read whole (a small one): a whole-image answer as the same bytes, a chunked one and a state as from a stream', async () => {
    const whole = encryptWith(Buffer.from(recordMeta.key), Buffer.from(recordMeta.iv), frameImage(jpeg, image))
    const payload = encodeWirePayload({ state: PixstoreState.Success, ciphertext: whole.ciphertext })
    const opened = await openImageAnswer(payload, recordMeta, payload.length)
    assert.ok(opened.kind === 'whole')
    assert.equal(opened.payload, payload, 'handed back, not copied')

    const answer = chunkedAnswer(encodeWireHead({ state: ChunkedState.ChunkedSuccess }))
    const chunked = await openImageAnswer(answer, recordMeta, answer.length)
    assert.ok(chunked.kind === 'chunked')
    assert.equal(chunked.format, jpeg)
    assert.equal(chunked.imageLength, image.length)
    assert.deepEqual(new Uint8Array((await readAll(chunked.image)).bytes), image)

    assert.deepEqual(await openImageAnswer(Uint8Array.of(PixstoreState.NotFound), recordMeta, 1), { kind: 'failure', state: PixstoreState.NotFound })
    await assert.rejects(openImageAnswer(new Uint8Array(0), recordMeta, 0), (error) => error instanceof WireDecodeError && error.reason === 'Empty')
    const cut = answer.subarray(0, answer.length - 1)
    const truncated = await openImageAnswer(cut, recordMeta)
    assert.ok(truncated.kind === 'chunked')
    assert.ok((await readAll(truncated.image)).error instanceof ChunkedPayloadError)
  })

  it('returns one-byte states, and refuses bytes after them without reading the rest', async () => {
    for (const state of [2, 3, 4, 5, 6] as const) assert.deepEqual(await openImageAnswer(bodyOf([Uint8Array.of(state)]).body, recordMeta), { kind: 'failure', state })
    const glued = bodyOf([Uint8Array.of(5, 0)])
    await assert.rejects(openImageAnswer(glued.body, recordMeta), (error) => error instanceof WireDecodeError && error.reason === 'TrailingBytes')
    const later = bodyOf([Uint8Array.of(5), Uint8Array.of(1), new Uint8Array(1000), new Uint8Array(1000)])
    await assert.rejects(openImageAnswer(later.body, recordMeta), (error) => error instanceof WireDecodeError && error.reason === 'TrailingBytes')
    assert.equal(later.state.pulled, 2, 'stopped at the first byte too many')
    assert.ok(later.state.cancelled)
  })

  it('refuses an empty body, a body ending inside its head, an unknown state, and a length no chunked payload has', async () => {
    const expectCode = async (pieces: Uint8Array[], code: string, length: number | null = null) =>
      assert.rejects(openImageAnswer(bodyOf(pieces).body, recordMeta, length), (error) => (error instanceof WireDecodeError || error instanceof ChunkedPayloadError) && error.reason === code)
    await expectCode([], 'Empty')
    await expectCode([encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 1, meta: newMeta }).subarray(0, 40)], 'Truncated')
    await expectCode([Uint8Array.of(9, 1, 2)], 'UnknownState')
    const answer = chunkedAnswer(encodeWireHead({ state: ChunkedState.ChunkedSuccess }))
    await expectCode([answer], 'Truncated', 1 + 3 * SEALED_RECORD_BYTES + 5)
  })

  it('refuses an unknown format byte, a format byte with no image, and an empty plaintext', async () => {
    for (const plaintext of [Uint8Array.of(9, 1, 2, 3), Uint8Array.of(jpeg.byte), new Uint8Array(0)]) {
      const { body } = bodyOf([chunkedAnswer(Uint8Array.of(ChunkedState.ChunkedSuccess), recordMeta, plaintext)])
      await assert.rejects(openImageAnswer(body, recordMeta), ImageFrameError)
    }
  })

  it('gives the body up at the first record when its format byte is unknown', async () => {
    const answer = chunkedAnswer(Uint8Array.of(ChunkedState.ChunkedSuccess), recordMeta, concat(Uint8Array.of(9), image))
    const { body, state } = bodyOf(splitPayload(answer, 12, 20000))
    await assert.rejects(openImageAnswer(body, recordMeta), /Unknown image format byte 9/)
    assert.ok(state.cancelled)
  })

  it('rejects when the first record does not authenticate (another version\'s meta), and gives the body up', async () => {
    const answer = chunkedAnswer(Uint8Array.of(ChunkedState.ChunkedSuccess), newMeta)
    const { body, state } = bodyOf(splitPayload(answer, 8, 20000))
    await assert.rejects(openImageAnswer(body, recordMeta), (error) => error instanceof ChunkedPayloadError && error.reason === 'Authentication')
    assert.ok(state.cancelled)
  })

  it('errors the image stream at a bad record mid-way, after only the authentic records, and gives the body up', async () => {
    const answer = chunkedAnswer(Uint8Array.of(ChunkedState.ChunkedSuccess))
    answer[1 + 2 * SEALED_RECORD_BYTES + 10]! ^= 1
    const { body, state } = bodyOf(splitPayload(answer, 9, 20000))
    const opened = await openImageAnswer(body, recordMeta)
    assert.ok(opened.kind === 'chunked')
    const { bytes, error } = await readAll(opened.image)
    assert.ok(error instanceof ChunkedPayloadError && error.reason === 'Authentication', `got ${error}`)
    assert.deepEqual(bytes, Buffer.from(image.subarray(0, 2 * RS - 1)))
    assert.ok(state.cancelled)
  })

  it('gives the body up when the image stream is cancelled (the <img> went away)', async () => {
    const answer = chunkedAnswer(Uint8Array.of(ChunkedState.ChunkedSuccess))
    const { body, state } = bodyOf(splitPayload(answer, 10, 20000))
    const opened = await openImageAnswer(body, recordMeta)
    assert.ok(opened.kind === 'chunked')
    await opened.image.cancel('gone')
    assert.ok(state.cancelled)
    assert.ok(state.pulled < 10, `read ${state.pulled} pieces of ${Math.ceil(answer.length / 10000)}+`)
  })
})
