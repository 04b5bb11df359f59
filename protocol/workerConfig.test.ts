import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chunkedPayloadLength } from './chunked'
import { ChunkedState, encodeWireHead, encodeWirePayload, PixstoreState } from './wire'
import { maxAnswerBytes } from './workerConfig'

describe('maxAnswerBytes', () => {
  const meta = { key: new Uint8Array(32), iv: new Uint8Array(12), tag: new Uint8Array(16) }
  for (const image of [0, 1, 16383, 16384, 100_000, 25 * 1024 * 1024]) {
    it(`is the longest answer a ${image}-byte image can come in: ChunkedUpdated, not shorter than Updated`, () => {
      // The framed plaintext: the format byte, then the image.
      const chunkedUpdated = encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 1, meta }).length + chunkedPayloadLength(image + 1)
      const updated = encodeWirePayload({ state: PixstoreState.Updated, token: 1, meta, ciphertext: new Uint8Array(image + 1) }).length
      assert.equal(maxAnswerBytes(image), chunkedUpdated)
      assert.ok(updated <= maxAnswerBytes(image))
      assert.ok(maxAnswerBytes(image + 1) > maxAnswerBytes(image))
    })
  }
})
