import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH, type RawImageMeta } from '../protocol/wire'

const ALGORITHM = 'aes-256-gcm'

export interface EncryptedImage {
  ciphertext: Buffer
  meta: RawImageMeta & { key: Buffer; iv: Buffer; tag: Buffer }
}

/** Encrypts with a fresh key and IV: every image (and every version of it) has its own key. */
export function encryptImage(plaintext: Uint8Array): EncryptedImage {
  return encryptWith(randomBytes(KEY_LENGTH), randomBytes(IV_LENGTH), plaintext)
}

/** Deterministic form of encryptImage, for fixed test vectors. */
export function encryptWith(key: Buffer, iv: Buffer, plaintext: Uint8Array): EncryptedImage {
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_LENGTH })
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { ciphertext, meta: { key, iv, tag: cipher.getAuthTag() } }
}

/** Throws when the key, IV or tag do not authenticate the ciphertext. */
export function decryptImage(ciphertext: Uint8Array, meta: RawImageMeta): Buffer {
  const decipher = createDecipheriv(ALGORITHM, meta.key, meta.iv, { authTagLength: TAG_LENGTH })
  decipher.setAuthTag(meta.tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()])
}
