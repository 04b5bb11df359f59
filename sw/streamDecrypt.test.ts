import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { CHUNKED_RECORD_BYTES, ChunkedPayloadError, SEALED_RECORD_BYTES } from '../protocol/chunked'
import { CHUNKED_VECTORS, VECTOR_IV, VECTOR_KEY, vectorPlaintext } from '../protocol/chunkedVectors'
import { encryptChunked } from '../server/chunkedCrypto'
import { assertFailedClosed, splitPayload, tamperCases } from '../testing/chunkedTampering'
import { createDecryptStream } from './streamDecrypt'

// The payloads are the fixed vectors (each checked by its SHA-256 here) and tampered forms of
// them, written with node:crypto; the reader under test is WebCrypto's.

const RS = CHUNKED_RECORD_BYTES
const meta = { key: VECTOR_KEY, iv: VECTOR_IV }
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Pieces through the decrypt stream, as a fetch body would come; what came out before the end or the error. */
async function decrypt(pieces: Uint8Array[], key = meta): Promise<{ passed: Buffer; error?: unknown }> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(Uint8Array.from(piece))
      controller.close()
    },
  })
  const reader = source.pipeThrough(createDecryptStream(key)).getReader()
  const passed: Uint8Array[] = []
  try {
    for (let result = await reader.read(); !result.done; result = await reader.read()) passed.push(result.value)
    return { passed: Buffer.concat(passed) }
  } catch (error) {
    return { passed: Buffer.concat(passed), error }
  }
}

describe('createDecryptStream (WebCrypto)', () => {
  it('decrypts every fixed vector, whole and in network chunks that split records anywhere', async () => {
    for (const vector of CHUNKED_VECTORS) {
      const payload = encryptChunked(VECTOR_KEY, VECTOR_IV, vectorPlaintext(vector.plaintextLength))
      assert.equal(sha256(payload), vector.sha256)
      const splits = [[payload], splitPayload(payload, vector.plaintextLength + 2, 20000), splitPayload(payload, 3, 70000)]
      if (vector.plaintextLength <= 1000) splits.push(splitPayload(payload, 1, 1))
      for (const pieces of splits) {
        const { passed, error } = await decrypt(pieces)
        assert.equal(error, undefined)
        assert.equal(sha256(passed), sha256(vectorPlaintext(vector.plaintextLength)), `length ${vector.plaintextLength}, ${pieces.length} pieces`)
      }
    }
  })

  it('decrypts with 1-byte chunks across every record boundary of a three-record payload', async () => {
    const plaintext = vectorPlaintext(2 * RS + 5)
    const payload = encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext)
    const pieces: Uint8Array[] = []
    let at = 0
    for (const boundary of [SEALED_RECORD_BYTES, 2 * SEALED_RECORD_BYTES]) {
      pieces.push(payload.subarray(at, boundary - 20))
      for (let i = boundary - 20; i < boundary + 20; i++) pieces.push(payload.subarray(i, i + 1))
      at = boundary + 20
    }
    pieces.push(payload.subarray(at))
    const { passed, error } = await decrypt(pieces)
    assert.equal(error, undefined)
    assert.deepEqual(passed, Buffer.from(plaintext))
  })

  it('passes on the first record\'s plaintext before the rest of the payload was written', async () => {
    const plaintext = vectorPlaintext(2 * RS + 5)
    const payload = encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext)
    const stream = createDecryptStream(meta)
    const writer = stream.writable.getWriter()
    const reader = stream.readable.getReader()
    const firstRead = reader.read()
    void writer.write(payload.subarray(0, SEALED_RECORD_BYTES + 100))
    const first = await firstRead
    assert.deepEqual(first.value, plaintext.subarray(0, RS), 'record 0 out while record 1 is incomplete and record 2 unwritten')
    void writer.write(payload.subarray(SEALED_RECORD_BYTES + 100))
    void writer.close()
    const rest: Uint8Array[] = []
    for (let result = await reader.read(); !result.done; result = await reader.read()) rest.push(result.value)
    assert.deepEqual(Buffer.concat(rest), Buffer.from(plaintext.subarray(RS)))
  })

  it('errors both sides of the stream on a bad record: the reader rejects and the writer refuses more', async () => {
    const payload = encryptChunked(VECTOR_KEY, VECTOR_IV, vectorPlaintext(2 * RS + 5))
    const bad = Uint8Array.from(payload)
    bad[10]! ^= 1
    const stream = createDecryptStream(meta)
    const writer = stream.writable.getWriter()
    const reader = stream.readable.getReader()
    const read = reader.read()
    const write = writer.write(bad.subarray(0, SEALED_RECORD_BYTES))
    await assert.rejects(read, (error) => error instanceof ChunkedPayloadError && error.reason === 'Authentication')
    await assert.rejects(write, ChunkedPayloadError)
    await assert.rejects(writer.write(bad.subarray(SEALED_RECORD_BYTES)), ChunkedPayloadError)
  })

  it('refuses a key or iv of the wrong length at once', () => {
    assert.throws(() => createDecryptStream({ key: new Uint8Array(31), iv: VECTOR_IV }), (error) => error instanceof ChunkedPayloadError && error.reason === 'BadMeta')
    assert.throws(() => createDecryptStream({ key: VECTOR_KEY, iv: new Uint8Array(16) }), (error) => error instanceof ChunkedPayloadError && error.reason === 'BadMeta')
  })
})

describe('createDecryptStream (WebCrypto): fails closed', () => {
  for (const tamper of tamperCases()) {
    it(tamper.name, async () => {
      for (const pieces of [[tamper.payload], splitPayload(tamper.payload, 13, 30000)]) {
        assertFailedClosed(tamper, await decrypt(pieces, tamper.meta))
      }
    })
  }
})
