import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import { CHUNKED_RECORD_BYTES, ChunkedPayloadError, RECORD_KEY_INFO, SEALED_RECORD_BYTES } from '../protocol/chunked'
import { CHUNKED_VECTORS, VECTOR_IV, VECTOR_KEY, VECTOR_RECORD_KEY, vectorPlaintext } from '../protocol/chunkedVectors'
import { assertFailedClosed, splitPayload, tamperCases } from '../testing/chunkedTampering'
import { PixstoreError } from '../protocol/errors'
import { ChunkedEncryptor, chunkedRecordKey, decryptChunked, decryptChunkedStream, encryptChunked, transcodeToChunked } from './chunkedCrypto'
import { encryptWith } from './crypto'

const RS = CHUNKED_RECORD_BYTES
const meta = { key: VECTOR_KEY, iv: VECTOR_IV }
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

async function readStream(pieces: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, key = meta): Promise<{ passed: Buffer; error?: unknown }> {
  const passed: Uint8Array[] = []
  try {
    for await (const piece of decryptChunkedStream(key, pieces)) passed.push(Uint8Array.from(piece))
    return { passed: Buffer.concat(passed) }
  } catch (error) {
    return { passed: Buffer.concat(passed), error }
  }
}

describe('chunked payload, Node', () => {
  it('derives the record key of the vector, equal to HKDF-SHA-256 computed by hand from RFC 5869', () => {
    assert.equal(hex(chunkedRecordKey(VECTOR_KEY, VECTOR_IV)), hex(VECTOR_RECORD_KEY))
    const prk = createHmac('sha256', VECTOR_IV).update(VECTOR_KEY).digest()
    const okm = createHmac('sha256', prk).update(Buffer.concat([RECORD_KEY_INFO, Uint8Array.of(1)])).digest()
    assert.equal(hex(okm), hex(VECTOR_RECORD_KEY))
  })

  it('encrypts every fixed vector to the exact payload (SHA-256, first and last 16 bytes)', () => {
    for (const vector of CHUNKED_VECTORS) {
      const payload = encryptChunked(VECTOR_KEY, VECTOR_IV, vectorPlaintext(vector.plaintextLength))
      assert.equal(payload.length, vector.payloadLength, `length ${vector.plaintextLength}`)
      assert.equal(sha256(payload), vector.sha256, `length ${vector.plaintextLength}`)
      assert.equal(hex(payload.subarray(0, 16)), vector.first16)
      assert.equal(hex(payload.subarray(-16)), vector.last16)
    }
  })

  it('gives the same payload whatever pieces the plaintext is pushed in (format byte apart, 1 byte, odd sizes, record-sized)', () => {
    const plaintext = vectorPlaintext(2 * RS + 1000)
    const reference = encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext)
    for (const pieces of [[plaintext.subarray(0, 1), plaintext.subarray(1)], splitPayload(plaintext, 3, 5000), splitPayload(plaintext, 4, 200000), [plaintext.subarray(0, RS), plaintext.subarray(RS, 2 * RS), plaintext.subarray(2 * RS)]]) {
      assert.deepEqual(encryptChunked(VECTOR_KEY, VECTOR_IV, pieces), reference)
    }
  })

  it('hands out a record\'s ciphertext as it encrypts; only the delimiter and tag wait for what follows', () => {
    const encryptor = new ChunkedEncryptor(VECTOR_KEY, VECTOR_IV)
    const plaintext = vectorPlaintext(RS + 10)
    const first = Buffer.concat(encryptor.push(plaintext.subarray(0, RS)))
    assert.equal(first.length, RS, 'the whole first piece, not yet its delimiter and tag')
    const rest = Buffer.concat([...encryptor.push(plaintext.subarray(RS)), ...encryptor.end()])
    assert.deepEqual(Buffer.concat([first, rest]), encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext))
    assert.throws(() => encryptor.push(Uint8Array.of(1)), /after end/)
  })

  it('decrypts every vector, whole and as a stream split anywhere', async () => {
    for (const vector of CHUNKED_VECTORS) {
      const plaintext = vectorPlaintext(vector.plaintextLength)
      const payload = encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext)
      assert.deepEqual(decryptChunked(payload, meta), Buffer.from(plaintext))
      for (const pieces of [[payload], splitPayload(payload, vector.plaintextLength + 1, 9000), splitPayload(payload, 5, 70000)]) {
        const { passed, error } = await readStream(pieces)
        assert.equal(error, undefined)
        assert.deepEqual(passed, Buffer.from(plaintext), `length ${vector.plaintextLength}`)
      }
    }
  })

  it('yields the first record before the rest of the payload was read', async () => {
    const payload = encryptChunked(VECTOR_KEY, VECTOR_IV, vectorPlaintext(3 * RS))
    const events: string[] = []
    async function* source() {
      events.push('first record read')
      yield payload.subarray(0, SEALED_RECORD_BYTES)
      events.push('rest read')
      yield payload.subarray(SEALED_RECORD_BYTES)
    }
    for await (const piece of decryptChunkedStream(meta, source())) events.push(`yielded ${piece.length}`)
    assert.deepEqual(events, ['first record read', `yielded ${RS}`, 'rest read', `yielded ${RS}`, `yielded ${RS}`])
  })

  it('never uses the image key and iv for records: record 0 shares no keystream with the whole-image ciphertext', () => {
    const plaintext = vectorPlaintext(1000)
    const whole = encryptWith(Buffer.from(VECTOR_KEY), Buffer.from(VECTOR_IV), plaintext).ciphertext
    const chunked = encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext)
    // Same key and nonce would mean the same AES-CTR keystream: equal bytes for equal plaintext.
    const equalBytes = [...whole].filter((byte, i) => byte === chunked[i]).length
    assert.ok(equalBytes < 20, `${equalBytes} of 1000 bytes equal`)
  })

  it('regenerates the whole-image form from the chunked one, tag included (both are deterministic in key, iv, plaintext)', () => {
    const plaintext = vectorPlaintext(RS + 77)
    const whole = encryptWith(Buffer.from(VECTOR_KEY), Buffer.from(VECTOR_IV), plaintext)
    const again = encryptWith(Buffer.from(VECTOR_KEY), Buffer.from(VECTOR_IV), decryptChunked(encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext), meta))
    assert.deepEqual(again.ciphertext, whole.ciphertext)
    assert.deepEqual(again.meta.tag, whole.meta.tag)
  })

  it('refuses a key or iv of the wrong length', () => {
    assert.throws(() => encryptChunked(new Uint8Array(16), VECTOR_IV, Uint8Array.of(1)), (error) => error instanceof ChunkedPayloadError && error.reason === 'BadMeta')
    assert.throws(() => decryptChunked(new Uint8Array(17), { key: VECTOR_KEY, iv: new Uint8Array(16) }), (error) => error instanceof ChunkedPayloadError && error.reason === 'BadMeta')
  })
})

describe('transcodeToChunked', () => {
  const plaintext = vectorPlaintext(2 * RS + 300)
  const whole = encryptWith(Buffer.from(VECTOR_KEY), Buffer.from(VECTOR_IV), plaintext)
  const collect = async (pieces: Uint8Array[], wholeMeta = whole.meta) => {
    const out: Uint8Array[] = []
    try {
      for await (const piece of transcodeToChunked(wholeMeta, pieces)) out.push(piece)
      return { payload: Buffer.concat(out) }
    } catch (error) {
      return { payload: Buffer.concat(out), error }
    }
  }

  it('turns the whole-image form, read in pieces of any size, into exactly the chunked payload of the same version', async () => {
    for (const pieces of [[whole.ciphertext], splitPayload(whole.ciphertext, 21, 40000), splitPayload(whole.ciphertext, 22, 300000)]) {
      const { payload, error } = await collect(pieces)
      assert.equal(error, undefined)
      assert.deepEqual(payload, encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext))
    }
  })

  it('reads a whole ciphertext given as one buffer a record at a time: its first record comes out before the rest is decrypted', async () => {
    // A cached version is one Buffer. Transcoding it all before the first
    // record would hold its plaintext and payload twice over per connection
    // and delay the answer's first byte by the whole image's CPU.
    const big = encryptWith(Buffer.from(VECTOR_KEY), Buffer.from(VECTOR_IV), vectorPlaintext(64 * 1024 * 1024, 7))
    const before = process.memoryUsage().arrayBuffers
    const records = transcodeToChunked(big.meta, [big.ciphertext])
    const first = await records.next()
    const grown = process.memoryUsage().arrayBuffers - before
    assert.equal(first.done, false)
    assert.ok(grown < 4 * 1024 * 1024, `first record of a 64 MiB image cost ${(grown / 1024 / 1024).toFixed(1)} MiB of buffers (bounded: a record or two)`)
    await records.return(undefined)
  })

  it('stops before the last record is complete when the stored ciphertext or tag is altered, so a reader fails closed', async () => {
    const altered = Uint8Array.from(whole.ciphertext)
    altered[RS + 5]! ^= 1
    const badTag = { ...whole.meta, tag: Buffer.from(whole.meta.tag).fill(0, 0, 1) }
    for (const [pieces, wholeMeta] of [[splitPayload(altered, 23, 40000), whole.meta], [[whole.ciphertext], badTag]] as const) {
      const { payload, error } = await collect([...pieces], wholeMeta)
      assert.ok(error instanceof PixstoreError && error.code === 'ERR_IMAGE_DAMAGED', `got ${error}`)
      assert.ok(payload.length < encryptChunked(VECTOR_KEY, VECTOR_IV, plaintext).length, 'the last record was never completed')
      assert.throws(() => decryptChunked(payload, meta), ChunkedPayloadError)
    }
  })
})

describe('chunked payload, Node: fails closed', () => {
  for (const tamper of tamperCases()) {
    it(tamper.name, async () => {
      assert.throws(() => decryptChunked(tamper.payload, tamper.meta), (error) => error instanceof ChunkedPayloadError && error.reason === tamper.code)
      for (const pieces of [[tamper.payload], splitPayload(tamper.payload, 11, 30000)]) {
        assertFailedClosed(tamper, await readStream(pieces, tamper.meta))
      }
    })
  }
})
