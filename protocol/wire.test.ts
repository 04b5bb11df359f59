import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeWirePayload, encodeWirePayload, PixstoreState, UPDATED_HEADER_LENGTH, WireDecodeError, type WirePayload } from './wire'

const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill)
const meta = { key: bytes(32, 0xaa), iv: bytes(12, 0xbb), tag: bytes(16, 0xcc) }
const ciphertext = Uint8Array.of(9, 8, 7, 6, 5)

function expectDecodeError(payload: Uint8Array, code: WireDecodeError['code']) {
  assert.throws(() => decodeWirePayload(payload), (error) => error instanceof WireDecodeError && error.code === code)
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
