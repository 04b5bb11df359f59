import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  acceptsChunked,
  CHUNKED_HEADER,
  CHUNKED_PARAM,
  ChunkedState,
  decodeWireHead,
  decodeWirePayload,
  encodeWireHead,
  encodeWirePayload,
  PixstoreState,
  UPDATED_HEADER_LENGTH,
  WireDecodeError,
  type WireHead,
  type WirePayload,
} from './wire'

const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill)
const meta = { key: bytes(32, 0xaa), iv: bytes(12, 0xbb), tag: bytes(16, 0xcc) }
const ciphertext = Uint8Array.of(9, 8, 7, 6, 5)

function expectDecodeError(payload: Uint8Array, code: WireDecodeError['reason']) {
  assert.throws(() => decodeWirePayload(payload), (error) => error instanceof WireDecodeError && error.reason === code)
}

describe('wire format', () => {
  it('lays out Success as [0][ciphertext]', () => {
    assert.deepEqual(encodeWirePayload({ state: PixstoreState.Success, ciphertext }), Uint8Array.of(0, 9, 8, 7, 6, 5))
  })

  it('lays out Updated as [1][token u64 LE][key][iv][tag][ciphertext], byte for byte', () => {
    const token = 0x0102030405
    const encoded = encodeWirePayload({ state: PixstoreState.Updated, token, meta, ciphertext })
    const expected = Uint8Array.from([1, 5, 4, 3, 2, 1, 0, 0, 0, ...meta.key, ...meta.iv, ...meta.tag, ...ciphertext])
    assert.deepEqual(encoded, expected)
    assert.equal(UPDATED_HEADER_LENGTH, 69)
  })

  it('encodes every other state as exactly one byte', () => {
    for (const state of [PixstoreState.NotFound, PixstoreState.MissingID, PixstoreState.MissingProof, PixstoreState.InvalidProof, PixstoreState.InternalError]) {
      assert.deepEqual(encodeWirePayload({ state }), Uint8Array.of(state))
      assert.deepEqual(decodeWirePayload(Uint8Array.of(state)), { state })
    }
  })

  it('round-trips Success and Updated, including the largest safe token', () => {
    const payloads: WirePayload[] = [
      { state: PixstoreState.Success, ciphertext },
      { state: PixstoreState.Updated, token: 0, meta, ciphertext },
      { state: PixstoreState.Updated, token: Date.now(), meta, ciphertext },
      { state: PixstoreState.Updated, token: Number.MAX_SAFE_INTEGER, meta, ciphertext },
    ]
    for (const payload of payloads) assert.deepEqual(decodeWirePayload(encodeWirePayload(payload)), payload)
  })

  it('decodes views into a payload that sits at an offset of a larger buffer', () => {
    const encoded = encodeWirePayload({ state: PixstoreState.Updated, token: 77, meta, ciphertext })
    const padded = new Uint8Array(encoded.length + 10)
    padded.set(encoded, 3)
    const decoded = decodeWirePayload(padded.subarray(3, 3 + encoded.length))
    assert.equal(decoded.state, PixstoreState.Updated)
    assert.equal(decoded.state === PixstoreState.Updated && decoded.token, 77)
  })

  it('refuses to encode out-of-range tokens and wrong meta lengths', () => {
    assert.throws(() => encodeWirePayload({ state: PixstoreState.Updated, token: -1, meta, ciphertext }), RangeError)
    assert.throws(() => encodeWirePayload({ state: PixstoreState.Updated, token: 2 ** 60, meta, ciphertext }), RangeError)
    assert.throws(() => encodeWirePayload({ state: PixstoreState.Updated, token: 1, meta: { ...meta, iv: bytes(16, 1) }, ciphertext }), /iv must be 12 bytes/)
  })

  it('gives typed errors for empty, truncated, unknown-state and oversized payloads', () => {
    expectDecodeError(new Uint8Array(0), 'Empty')
    expectDecodeError(Uint8Array.of(0), 'Truncated')
    expectDecodeError(Uint8Array.of(7), 'UnknownState')
    expectDecodeError(Uint8Array.of(255, 1, 2), 'UnknownState')
    expectDecodeError(Uint8Array.of(PixstoreState.NotFound, 0), 'TrailingBytes')
    const updated = encodeWirePayload({ state: PixstoreState.Updated, token: 5, meta, ciphertext })
    for (let length = 1; length <= UPDATED_HEADER_LENGTH; length++) expectDecodeError(updated.subarray(0, length), 'Truncated')
    const huge = updated.slice()
    new DataView(huge.buffer).setBigUint64(1, 2n ** 63n, true)
    expectDecodeError(huge, 'TokenOutOfRange')
  })

  it('never throws anything but WireDecodeError on random input', () => {
    let seed = 42
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed)
    for (let i = 0; i < 2000; i++) {
      const input = Uint8Array.from({ length: random() % 120 }, () => random() % 256)
      try {
        decodeWirePayload(input)
      } catch (error) {
        assert.ok(error instanceof WireDecodeError, `unexpected ${error}`)
      }
    }
  })
})

describe('chunked wire states', () => {
  const records = Uint8Array.of(0xde, 0xad, 0xbe, 0xef)

  it('lays out ChunkedSuccess as [7] and ChunkedUpdated as [8][token u64 LE][key][iv][tag], byte for byte', () => {
    assert.deepEqual(encodeWireHead({ state: ChunkedState.ChunkedSuccess }), Uint8Array.of(7))
    const head = encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 0x0102030405, meta })
    assert.deepEqual(head, Uint8Array.from([8, 5, 4, 3, 2, 1, 0, 0, 0, ...meta.key, ...meta.iv, ...meta.tag]))
    assert.equal(head.length, UPDATED_HEADER_LENGTH)
    assert.throws(() => encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 1, meta: { ...meta, tag: bytes(15, 1) } }), /tag must be 16 bytes/)
  })

  it('keeps the states of Pixstore 3.x where they are and puts the chunked ones after them', () => {
    assert.deepEqual(Object.values(PixstoreState), [0, 1, 2, 3, 4, 5, 6])
    assert.deepEqual(Object.values(ChunkedState), [7, 8])
  })

  it('decodes every head from a stream prefix, saying when it needs more bytes', () => {
    const heads: WireHead[] = [
      { state: PixstoreState.Success },
      { state: PixstoreState.Updated, token: 9, meta },
      { state: ChunkedState.ChunkedSuccess },
      { state: ChunkedState.ChunkedUpdated, token: Number.MAX_SAFE_INTEGER, meta },
      ...[2, 3, 4, 5, 6].map((state) => ({ state }) as WireHead),
    ]
    for (const head of heads) {
      const encoded = encodeWireHead(head)
      const stream = Uint8Array.from([...encoded, ...records])
      for (let length = 0; length < encoded.length; length++) assert.equal(decodeWireHead(stream.subarray(0, length)), null, `state ${head.state}, ${length} bytes`)
      assert.deepEqual(decodeWireHead(stream), { head, length: encoded.length })
      assert.deepEqual(stream.subarray(encoded.length), records)
    }
  })

  it('gives a decoded meta that does not change when the stream buffer is reused', () => {
    const stream = Uint8Array.from([...encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 1, meta }), ...records])
    const decoded = decodeWireHead(stream)
    stream.fill(0)
    assert.ok(decoded && decoded.head.state === ChunkedState.ChunkedUpdated)
    assert.deepEqual(decoded.head.meta, meta)
  })

  it('refuses unknown states and out-of-range tokens in a head', () => {
    assert.throws(() => decodeWireHead(Uint8Array.of(9)), (error) => error instanceof WireDecodeError && error.reason === 'UnknownState')
    const huge = encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 1, meta })
    new DataView(huge.buffer).setBigUint64(1, 2n ** 60n, true)
    assert.throws(() => decodeWireHead(huge), (error) => error instanceof WireDecodeError && error.reason === 'TokenOutOfRange')
  })

  it('is refused by the 3.x decoder, which older workers use: a chunked answer is never mistaken for an image', () => {
    for (const state of [ChunkedState.ChunkedSuccess, ChunkedState.ChunkedUpdated]) {
      expectDecodeError(Uint8Array.from([state, ...new Uint8Array(UPDATED_HEADER_LENGTH), ...records]), 'UnknownState')
    }
  })
})

describe('acceptsChunked', () => {
  it('names the header and the query parameter', () => {
    assert.equal(CHUNKED_HEADER, 'x-pixstore-chunked')
    assert.equal(CHUNKED_PARAM, 'pixstore-chunked')
  })

  it('is true when the header or the parameter lists version 1', () => {
    for (const request of [{ header: '1' }, { param: '1' }, { header: ' 2, 1 ' }, { param: ['3', '1'] }, { header: ['1'], param: null }, { header: 'x', param: '1' }]) {
      assert.equal(acceptsChunked(request), true, JSON.stringify(request))
    }
  })

  it('is false, never an error, for a request that does not ask or asks only for versions it does not know', () => {
    for (const request of [{}, { header: null, param: undefined }, { header: '' }, { param: '0' }, { header: '2' }, { param: '11' }, { header: 'true' }, { param: ['', ' '] }, { header: `1${' '.repeat(70)}` }, { param: `${'9,'.repeat(40)}1` }]) {
      assert.equal(acceptsChunked(request), false, JSON.stringify(request))
    }
  })
})
