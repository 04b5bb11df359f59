import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH, type RawImageMeta } from '../protocol/wire'

const ALGORITHM = 'aes-256-gcm'

export interface EncryptedImage {
  ciphertext: Buffer
  meta: RawImageMeta & { key: Buffer; iv: Buffer; tag: Buffer }
}

/** Chunks small enough that writing one overlaps encrypting the next, big enough to keep write calls few. */
export const ENCRYPT_CHUNK_BYTES = 256 * 1024

/** An encryption handed out a chunk at a time; the tag, and so `meta`, exists once every chunk was taken. */
export interface ChunkedEncryption {
  chunks: Iterable<Buffer>
  readonly meta: EncryptedImage['meta']
}

/** The whole ciphertext at once, with a given key and IV: fixed test vectors, and the chunked form's reference. */
export function encryptWith(key: Buffer, iv: Buffer, plaintext: Uint8Array | readonly Uint8Array[]): EncryptedImage {
  const encryption = encryptInChunksWith(key, iv, plaintext instanceof Uint8Array ? [plaintext] : plaintext, Infinity)
  const chunks = [...encryption.chunks]
  return { ciphertext: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), meta: encryption.meta }
}

/**
 * Encrypts with a fresh key (or one the caller made fresh, to wrap it before
 * the store writes) and IV: every image (and every version of it) has its own key. The plaintext may come in parts (format byte, image), so it is
 * never framed into a copy first. It is encrypted lazily, `chunkBytes` at a
 * time: a writer stores one chunk while the next is encrypted, so saving pays
 * for the cipher and the disk side by side instead of one after the other.
 */
export function encryptImageInChunks(plaintext: readonly Uint8Array[], chunkBytes = ENCRYPT_CHUNK_BYTES, key: Buffer = randomBytes(KEY_LENGTH)): ChunkedEncryption {
  return encryptInChunksWith(key, randomBytes(IV_LENGTH), plaintext, chunkBytes)
}

/** Deterministic form of encryptImageInChunks, for fixed test vectors. */
export function encryptInChunksWith(key: Buffer, iv: Buffer, plaintext: readonly Uint8Array[], chunkBytes: number): ChunkedEncryption {
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_LENGTH })
  let tag: Buffer | null = null
  function* chunks(): Generator<Buffer> {
    // Each output is its own chunk, never joined: the format byte becomes a 1-byte write, not a copy of the next chunk.
    for (const part of plaintext) {
      for (let at = 0; at < part.length; at += chunkBytes) yield cipher.update(part.subarray(at, at + chunkBytes))
    }
    const final = cipher.final() // empty for GCM, kept for correctness
    tag = cipher.getAuthTag()
    if (final.length) yield final
  }
  return {
    chunks: chunks(),
    get meta() {
      if (!tag) throw new Error('The tag is known once every chunk was taken')
      return { key, iv, tag }
    },
  }
}

/** Throws when the key, IV or tag do not authenticate the ciphertext. */
export function decryptImage(ciphertext: Uint8Array, meta: RawImageMeta): Buffer {
  const decipher = createDecipheriv(ALGORITHM, meta.key, meta.iv, { authTagLength: TAG_LENGTH })
  decipher.setAuthTag(meta.tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()])
}
