import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'

/**
 * Envelope encryption of image keys (pure crypto, no I/O). A stored key is
 * either raw (exactly 32 bytes, as Pixstore 3.x and stores without a key
 * encryption key keep it) or wrapped, which is never 32 bytes long, so a
 * store may hold both while `pixstore rekey` runs:
 *
 *   by a local KEK:  [0x01][KEK id 8][nonce 12][AES-256-GCM(key) 32][tag 16]   (69 bytes)
 *                    associated data: [0x01][KEK id] + the image id in UTF-8
 *   by an object:    [0x02][whatever its wrapKey returned, 32 to 1023 bytes]
 *
 * The image id is bound in, so a wrapped key copied to another row does not
 * unwrap; the KEK id says which configured KEK (current or previous) to use.
 */

/** The KMS / HSM seam: anything that wraps a 32-byte key for an image id and unwraps it again for the same id. */
export interface KeyEncryptionKey {
  wrapKey(key: Uint8Array, id: string): Promise<Uint8Array>
  unwrapKey(wrapped: Uint8Array, id: string): Promise<Uint8Array>
}

export const RAW_KEY_LENGTH = 32
export const WRAPPED_BY_KEK = 0x01
export const WRAPPED_BY_OBJECT = 0x02
export const KEK_ID_LENGTH = 8
const NONCE_LENGTH = 12
const TAG_LENGTH = 16
const HEADER_LENGTH = 1 + KEK_ID_LENGTH
export const KEK_WRAPPED_LENGTH = HEADER_LENGTH + NONCE_LENGTH + RAW_KEY_LENGTH + TAG_LENGTH
/** The longest wrapped key a store accepts (the PostgreSQL column's check says the same). */
export const MAX_WRAPPED_LENGTH = 1024

/** True for a key as it is used (32 bytes); false for a wrapped one. */
export const isRawKey = (stored: Uint8Array): boolean => stored.length === RAW_KEY_LENGTH

/** 32 random bytes written as 64 hex digits or as base64 (standard or URL alphabet); null for anything else. */
export function parseKeyEncryptionKey(text: unknown): Buffer | null {
  if (typeof text !== 'string') return null
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text) || /^[A-Za-z0-9_-]{43}$/.test(text)) {
    const bytes = Buffer.from(text, /[_-]/.test(text) ? 'base64url' : 'base64')
    return bytes.length === RAW_KEY_LENGTH ? bytes : null
  }
  return null
}

/** A KEK's public name in wrapped keys: it says which KEK to use without saying anything about it (HMAC under the KEK). */
export function keyEncryptionKeyId(kek: Uint8Array): Buffer {
  return createHmac('sha256', kek).update('pixstore key encryption key id').digest().subarray(0, KEK_ID_LENGTH)
}

/** Wraps a 32-byte image key under a local KEK, bound to `id`. `nonce` is for fixed test vectors only. */
export function wrapKeyWith(kek: Uint8Array, key: Uint8Array, id: string, nonce: Uint8Array = randomBytes(NONCE_LENGTH)): Buffer {
  if (key.length !== RAW_KEY_LENGTH) throw new Error(`An image key is ${RAW_KEY_LENGTH} bytes, got ${key.length}`)
  const header = Buffer.concat([Uint8Array.of(WRAPPED_BY_KEK), keyEncryptionKeyId(kek)])
  const cipher = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: TAG_LENGTH })
  cipher.setAAD(associatedData(header, id))
  const sealed = Buffer.concat([cipher.update(key), cipher.final()])
  return Buffer.concat([header, nonce, sealed, cipher.getAuthTag()])
}

/** The image key, or an error when `wrapped` is not a key wrapped by this KEK for this id (moved, altered, other KEK). */
export function unwrapKeyWith(kek: Uint8Array, wrapped: Uint8Array, id: string): Buffer {
  if (wrapped.length !== KEK_WRAPPED_LENGTH || wrapped[0] !== WRAPPED_BY_KEK) throw new Error('not a key wrapped by a local key encryption key')
  const header = wrapped.subarray(0, HEADER_LENGTH)
  if (!keyEncryptionKeyId(kek).equals(header.subarray(1))) throw new Error('wrapped by another key encryption key')
  const nonce = wrapped.subarray(HEADER_LENGTH, HEADER_LENGTH + NONCE_LENGTH)
  const sealed = wrapped.subarray(HEADER_LENGTH + NONCE_LENGTH, HEADER_LENGTH + NONCE_LENGTH + RAW_KEY_LENGTH)
  const decipher = createDecipheriv('aes-256-gcm', kek, nonce, { authTagLength: TAG_LENGTH })
  decipher.setAAD(associatedData(header, id))
  decipher.setAuthTag(wrapped.subarray(HEADER_LENGTH + NONCE_LENGTH + RAW_KEY_LENGTH))
  try {
    return Buffer.concat([decipher.update(sealed), decipher.final()])
  } catch {
    throw new Error('it does not authenticate: it belongs to another image or was altered')
  }
}

/** The KEK id a locally wrapped key names, or null for raw and object-wrapped keys. */
export function wrappingKekId(stored: Uint8Array): Buffer | null {
  return stored.length === KEK_WRAPPED_LENGTH && stored[0] === WRAPPED_BY_KEK ? Buffer.from(stored.subarray(1, HEADER_LENGTH)) : null
}

/** An object's wrapped bytes in the stored form: tagged, and never 32 bytes long (so never taken for a raw key). */
export function encodeObjectWrapped(wrapped: Uint8Array): Buffer {
  if (!(wrapped instanceof Uint8Array) || wrapped.length < RAW_KEY_LENGTH || wrapped.length > MAX_WRAPPED_LENGTH - 1) {
    throw new Error(`keyEncryptionKey.wrapKey must resolve to ${RAW_KEY_LENGTH} to ${MAX_WRAPPED_LENGTH - 1} bytes (a Uint8Array)`)
  }
  return Buffer.concat([Uint8Array.of(WRAPPED_BY_OBJECT), wrapped])
}

/** What an object wrapped, or null when `stored` is not object-wrapped. */
export function decodeObjectWrapped(stored: Uint8Array): Uint8Array | null {
  return stored.length > RAW_KEY_LENGTH && stored[0] === WRAPPED_BY_OBJECT ? stored.subarray(1) : null
}

function associatedData(header: Uint8Array, id: string): Buffer {
  return Buffer.concat([header, Buffer.from(id, 'utf8')])
}
