import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { frameImage, imageFormatByName, ImageFrameError } from '../protocol/formats'
import { decodeWirePayload, encodeWirePayload, PixstoreState } from '../protocol/wire'
import { decryptImage, ImageDecryptionError } from './decryptImage'

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'))
const flipFirstBit = (bytes: Uint8Array) => bytes.map((byte, i) => (i === 0 ? byte ^ 1 : byte))

/** node:crypto (OpenSSL) as the independent encrypter, tag kept apart as Pixstore stores it. */
function encrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array) {
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const ciphertext = Uint8Array.from(Buffer.concat([cipher.update(plaintext), cipher.final()]))
  return { ciphertext, meta: { key, iv, tag: Uint8Array.from(cipher.getAuthTag()) } }
}

const key = Uint8Array.from({ length: 32 }, (_, i) => i)
const iv = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i)

describe('decryptImage', () => {
  it('decrypts a real GIF that node:crypto encrypted, and reads its format byte', async () => {
    const gif = Uint8Array.from(readFileSync(new URL('../fixtures/images/pixel-heart.gif', import.meta.url)))
    const { ciphertext, meta } = encrypt(key, iv, frameImage(imageFormatByName('gif')!, gif))
    const { format, image } = await decryptImage(ciphertext, meta)
    assert.equal(format.mimeType, 'image/gif')
    assert.deepEqual(new Uint8Array(image), gif)
  })

  it('decrypts a fixed ciphertext/tag vector (computed with OpenSSL and Python cryptography)', async () => {
    // plaintext = [5 (gif)] + "GIF89a pixstore vector"
    const { format, image } = await decryptImage(hex('e35f356b7df2639f120cffa07315b2bb50da3c73e6d830'), { key, iv, tag: hex('e107a421dc237d356075dd9a28a17d49') })
    assert.equal(format.name, 'gif')
    assert.equal(Buffer.from(image).toString(), 'GIF89a pixstore vector')
  })

  it('authenticates the NIST GCM test case 14 vector (whose zero plaintext then has no format byte)', async () => {
    const meta = { key: new Uint8Array(32), iv: new Uint8Array(12), tag: hex('d0d1c8a799996bf0265b98b5d48ab919') }
    await assert.rejects(decryptImage(hex('cea7403d4d606b6e074ec5d3baf39d18'), meta), ImageFrameError)
    await assert.rejects(decryptImage(hex('cea7403d4d606b6e074ec5d3baf39d18'), { ...meta, tag: flipFirstBit(meta.tag) }), ImageDecryptionError)
  })

  it('decrypts ciphertext and meta that are views into a decoded Updated payload', async () => {
    const png = frameImage(imageFormatByName('png')!, Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 1, 2, 3))
    const { ciphertext, meta } = encrypt(key, iv, png)
    const payload = decodeWirePayload(encodeWirePayload({ state: PixstoreState.Updated, token: 7, meta, ciphertext }))
    assert.equal(payload.state, PixstoreState.Updated)
    if (payload.state !== PixstoreState.Updated) return
    assert.notEqual(payload.ciphertext.byteOffset, 0)
    const { format, image } = await decryptImage(payload.ciphertext, payload.meta)
    assert.equal(format.mimeType, 'image/png')
    assert.deepEqual(new Uint8Array(image), png.subarray(1))
  })

  it('refuses a wrong tag, key or iv and altered ciphertext with a clear error', async () => {
    const { ciphertext, meta } = encrypt(key, iv, frameImage(imageFormatByName('webp')!, Uint8Array.of(1, 2, 3, 4)))
    const cases = [
      [ciphertext, { ...meta, tag: flipFirstBit(meta.tag) }],
      [ciphertext, { ...meta, key: flipFirstBit(meta.key) }],
      [ciphertext, { ...meta, iv: flipFirstBit(meta.iv) }],
      [flipFirstBit(ciphertext), meta],
    ] as const
    for (const [bytes, wrongMeta] of cases) {
      await assert.rejects(decryptImage(bytes, wrongMeta), (error) => error instanceof ImageDecryptionError && /authentication failed/.test(error.message))
    }
  })

  it('names the field when key material has the wrong length', async () => {
    const meta = { key, iv, tag: new Uint8Array(16) }
    await assert.rejects(decryptImage(Uint8Array.of(1, 2), { ...meta, key: new Uint8Array(16) }), /key must be 32 bytes, got 16/)
    await assert.rejects(decryptImage(Uint8Array.of(1, 2), { ...meta, iv: new Uint8Array(16) }), /iv must be 12 bytes, got 16/)
    await assert.rejects(decryptImage(Uint8Array.of(1, 2), { ...meta, tag: new Uint8Array(12) }), /tag must be 16 bytes, got 12/)
  })
})
