import { PixstoreError } from '../protocol/errors'
import { unframeImage, type ImageFormat } from '../protocol/formats'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH, type RawImageMeta } from '../protocol/wire'

/** The key, iv or tag does not authenticate the ciphertext (or has the wrong length). */
export class ImageDecryptionError extends PixstoreError {
  override name = 'ImageDecryptionError'
  constructor(message: string) {
    super(message, 'ERR_IMAGE_DECRYPT')
  }
}

/**
 * AES-256-GCM with WebCrypto, then the format byte split off. Pixstore keeps
 * the 16-byte tag apart from the ciphertext; WebCrypto wants it appended.
 * Throws ImageDecryptionError, or protocol's ImageFrameError when the
 * plaintext does not start with a known format byte.
 */
export async function decryptImage(ciphertext: Uint8Array, meta: RawImageMeta): Promise<{ format: ImageFormat; image: Uint8Array<ArrayBuffer> }> {
  const lengths = { key: KEY_LENGTH, iv: IV_LENGTH, tag: TAG_LENGTH } as const
  for (const field of ['key', 'iv', 'tag'] as const) {
    if (meta[field].length !== lengths[field]) throw new ImageDecryptionError(`AES-GCM ${field} must be ${lengths[field]} bytes, got ${meta[field].length}`)
  }
  const sealed = new Uint8Array(ciphertext.length + TAG_LENGTH)
  sealed.set(ciphertext)
  sealed.set(meta.tag, ciphertext.length)
  let plaintext: ArrayBuffer
  try {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(meta.key), 'AES-GCM', false, ['decrypt'])
    plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: new Uint8Array(meta.iv), tagLength: TAG_LENGTH * 8 }, key, sealed)
  } catch (error) {
    throw new ImageDecryptionError(`AES-GCM authentication failed: wrong key, iv or tag, or altered ciphertext (${error instanceof Error ? error.name : String(error)})`)
  }
  const { format, image } = unframeImage(new Uint8Array(plaintext))
  // A view into `plaintext`, which is a plain ArrayBuffer: no copy needed.
  return { format, image: image as Uint8Array<ArrayBuffer> }
}
