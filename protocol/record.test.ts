import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { base64ToBytes, bytesToBase64 } from './base64'
import { frameImage, imageFormatByName, ImageFrameError, unframeImage } from './formats'
import { decodeImageMeta, encodeImageMeta, InvalidImageRecordError, isValidImageId, parseImageRecord } from './record'

const good = {
  id: 'students:AbC_d-9',
  token: 1700000000000,
  meta: { key: bytesToBase64(new Uint8Array(32).fill(1)), iv: bytesToBase64(new Uint8Array(12).fill(2)), tag: bytesToBase64(new Uint8Array(16).fill(3)) },
  statelessProof: 'qywUQLZ_JekM7DSu7ukRLMZNmA-UzPhamoFvCmnAn7w',
}

describe('image ids', () => {
  it('accepts names with an optional dir prefix', () => {
    for (const id of ['a', 'KqRrRX5EKlAol9BlkOAYaw', 'students:kth1m9c4n8l2a7vz', 'x'.repeat(256)]) assert.ok(isValidImageId(id), id)
  })
  it('refuses traversal, separators, empty and overlong ids', () => {
    for (const id of ['', '..', '../etc/passwd', 'a/b', 'a\\b', 'a:b:c', ':a', 'a:', '%2e%2e', 'a b', 'é', 'x'.repeat(257), 42, null]) {
      assert.equal(isValidImageId(id), false, String(id))
    }
  })
})

describe('parseImageRecord', () => {
  it('returns a clean copy of a good record, dropping unknown fields', () => {
    assert.deepEqual(parseImageRecord({ ...good, extra: 'x' }), good)
  })
  it('keeps proofExpiresAt when given, and accepts a 3.x record without it', () => {
    assert.deepEqual(parseImageRecord({ ...good, proofExpiresAt: 1700000040000 }), { ...good, proofExpiresAt: 1700000040000 })
    assert.equal('proofExpiresAt' in parseImageRecord(good), false)
    for (const bad of [-1, 1.5, '1700000040000', null]) assert.throws(() => parseImageRecord({ ...good, proofExpiresAt: bad }), /proofExpiresAt/)
  })
  it('names what is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [{ ...good, id: '../x' }, /id must be/],
      [{ ...good, token: 1.5 }, /token/],
      [{ ...good, token: -1 }, /token/],
      [{ ...good, token: '5' }, /token/],
      [{ ...good, statelessProof: '' }, /statelessProof/],
      [{ ...good, statelessProof: 'a\nb' }, /statelessProof/],
      [{ ...good, meta: null }, /meta must be/],
      [{ ...good, meta: { ...good.meta, key: bytesToBase64(new Uint8Array(16)) } }, /meta.key must be standard base64 of 32 bytes/],
      [{ ...good, meta: { ...good.meta, iv: 'not base64!' } }, /meta.iv/],
      [{ ...good, meta: { ...good.meta, tag: undefined } }, /meta.tag/],
    ]
    for (const [value, message] of cases) {
      assert.throws(() => parseImageRecord(value), (error) => error instanceof InvalidImageRecordError && message.test(error.message))
    }
  })
})

describe('image meta', () => {
  it('converts between raw key material and the base64 a record carries', () => {
    const raw = decodeImageMeta(good.meta)
    assert.deepEqual([raw.key.length, raw.iv.length, raw.tag.length], [32, 12, 16])
    assert.deepEqual(raw.iv, new Uint8Array(12).fill(2))
    assert.deepEqual(encodeImageMeta(raw), good.meta)
  })
})

describe('base64', () => {
  it('matches Node for every length around the chunk size', () => {
    for (const length of [0, 1, 2, 3, 31, 32, 33, 0x8000 - 1, 0x8000, 0x8000 + 1]) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 31) % 256)
      const text = bytesToBase64(data)
      assert.equal(text, Buffer.from(data).toString('base64'))
      assert.deepEqual(base64ToBytes(text), data)
    }
  })
  it('refuses non-canonical text', () => {
    for (const text of ['abc', 'ab=c', 'a-b_', '====']) assert.throws(() => base64ToBytes(text), TypeError)
  })
})

describe('image framing', () => {
  it('prefixes the fixed format byte and splits it off again', () => {
    const image = Uint8Array.of(0x89, 0x50, 0x4e, 0x47)
    const framed = frameImage(imageFormatByName('gif')!, image)
    assert.deepEqual(framed, Uint8Array.of(5, 0x89, 0x50, 0x4e, 0x47))
    const { format, image: back } = unframeImage(framed)
    assert.equal(format.mimeType, 'image/gif')
    assert.deepEqual(back, image)
  })
  it('keeps the Pixstore 3.x byte table', () => {
    assert.deepEqual(['png', 'webp', 'jpg', 'jpeg', 'gif', 'avif'].map((name) => imageFormatByName(name)?.byte), [1, 2, 3, 4, 5, 6])
  })
  it('refuses unknown format bytes and empty plaintext', () => {
    assert.throws(() => unframeImage(Uint8Array.of(0, 1, 2)), ImageFrameError)
    assert.throws(() => unframeImage(Uint8Array.of(1)), ImageFrameError)
  })
})
