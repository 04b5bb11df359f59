import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH, type RawImageMeta } from '../protocol/wire'

const ALGORITHM = 'aes-256-gcm'

export interface EncryptedImage {
  ciphertext: Buffer
  meta: RawImageMeta & { key: Buffer; iv: Buffer; tag: Buffer }
}

/**
 * Encrypts with a fresh key and IV: every image (and every version of it) has
 * its own key. The plaintext may come in parts (format byte, image), so it is
 * never framed into a copy first; the ciphertext is assembled once.
 */
export function encryptImage(plaintext: Uint8Array | readonly Uint8Array[]): EncryptedImage {
  return encryptWith(randomBytes(KEY_LENGTH), randomBytes(IV_LENGTH), plaintext)
}

/** Deterministic form of encryptImage, for fixed test vectors. */
export function encryptWith(key: Buffer, iv: Buffer, plaintext: Uint8Array | readonly Uint8Array[]): EncryptedImage {
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_LENGTH })
  const parts = (plaintext instanceof Uint8Array ? [plaintext] : plaintext).map((part) => cipher.update(part))
  const final = cipher.final() // empty for GCM, kept for correctness
  const ciphertext = Buffer.concat(final.length ? [...parts, final] : parts)
  return { ciphertext, meta: { key, iv, tag: cipher.getAuthTag() } }
}

/** Throws when the key, IV or tag do not authenticate the ciphertext. */
export function decryptImage(ciphertext: Uint8Array, meta: RawImageMeta): Buffer {
  const decipher = createDecipheriv(ALGORITHM, meta.key, meta.iv, { authTagLength: TAG_LENGTH })
  decipher.setAuthTag(meta.tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()])
}
