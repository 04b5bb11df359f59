import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decryptImage, encryptImageInChunks, encryptInChunksWith, encryptWith } from './crypto'

const hex = (text: string) => Buffer.from(text, 'hex')

describe('image encryption', () => {
  it('matches the AES-256-GCM test vector (NIST GCM spec, test case 14)', () => {
    const { ciphertext, meta } = encryptWith(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(16))
    assert.equal(ciphertext.toString('hex'), 'cea7403d4d606b6e074ec5d3baf39d18')
    assert.equal(meta.tag.toString('hex'), 'd0d1c8a799996bf0265b98b5d48ab919')
    assert.deepEqual(decryptImage(hex('cea7403d4d606b6e074ec5d3baf39d18'), { key: Buffer.alloc(32), iv: Buffer.alloc(12), tag: hex('d0d1c8a799996bf0265b98b5d48ab919') }), Buffer.alloc(16))
  })

  it('gives the same ciphertext and tag for a plaintext in parts as for it whole', () => {
    const whole = encryptWith(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(16))
    const parts = encryptWith(Buffer.alloc(32), Buffer.alloc(12), [Buffer.alloc(1), Buffer.alloc(7), Buffer.alloc(8)])
    assert.equal(parts.ciphertext.toString('hex'), 'cea7403d4d606b6e074ec5d3baf39d18')
    assert.deepEqual(parts.meta.tag, whole.meta.tag)
  })

  it('gives the same ciphertext and tag in chunks of any size, and the tag only once every chunk was taken', () => {
    const plaintext = [Buffer.of(1), Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251))]
    const reference = encryptWith(Buffer.alloc(32, 7), Buffer.alloc(12, 9), plaintext)
    for (const chunkBytes of [1, 7, 256, 1000, 1001, 4096]) {
      const chunked = encryptInChunksWith(Buffer.alloc(32, 7), Buffer.alloc(12, 9), plaintext, chunkBytes)
      assert.throws(() => chunked.meta, /every chunk/)
      const chunks = [...chunked.chunks]
      assert.ok(chunks.every((chunk) => chunk.length <= chunkBytes), `chunk sizes for ${chunkBytes}: ${chunks.map((c) => c.length)}`)
      assert.deepEqual(Buffer.concat(chunks), reference.ciphertext, `chunkBytes ${chunkBytes}`)
      assert.deepEqual(chunked.meta.tag, reference.meta.tag)
    }
  })

  it('uses a fresh key and iv every time', () => {
    const plaintext = Buffer.from('same image')
    const encrypt = (bytes: Buffer) => {
      const encryption = encryptImageInChunks([bytes])
      const ciphertext = Buffer.concat([...encryption.chunks])
      return { ciphertext, meta: encryption.meta }
    }
    const a = encrypt(plaintext)
    const b = encrypt(plaintext)
    assert.notDeepEqual(a.meta.key, b.meta.key)
    assert.notDeepEqual(a.meta.iv, b.meta.iv)
    assert.deepEqual([a.meta.key.length, a.meta.iv.length, a.meta.tag.length], [32, 12, 16])
    assert.deepEqual(decryptImage(a.ciphertext, a.meta), plaintext)
  })

  it('refuses a wrong key, a wrong tag and tampered ciphertext', () => {
    const { ciphertext, meta } = encryptWith(Buffer.alloc(32, 1), Buffer.alloc(12, 2), Buffer.from('secret picture'))
    const flipped = (bytes: Buffer) => Buffer.from(bytes.map((byte, i) => (i === 0 ? byte ^ 1 : byte)))
    assert.throws(() => decryptImage(ciphertext, { ...meta, key: flipped(meta.key) }))
    assert.throws(() => decryptImage(ciphertext, { ...meta, tag: flipped(meta.tag) }))
    assert.throws(() => decryptImage(flipped(ciphertext), meta))
  })
})
