import { IMAGE_FORMAT_NAMES, unframeImage, type ImageFormat } from '../protocol/formats'
import type { RawImageMeta } from '../protocol/wire'
import { decryptImage } from './crypto'
import { PixstoreError } from './errors'
import { detectImageFormat } from './imageFormat'

/**
 * Decrypts and checks that the plaintext is a complete image of the format
 * its first byte names: the one check an imported, verified or migrated image
 * passes. Fails with ERR_IMAGE_DAMAGED naming the image and what is wrong.
 */
export function openFramedImage(id: string, ciphertext: Uint8Array, meta: RawImageMeta): { format: ImageFormat; image: Uint8Array } {
  let plaintext: Buffer
  try {
    plaintext = decryptImage(ciphertext, meta)
  } catch {
    throw new PixstoreError(`Image ${id} does not decrypt with its key, iv and tag`, 'ERR_IMAGE_DAMAGED')
  }
  let framed: { format: ImageFormat; image: Uint8Array }
  try {
    framed = unframeImage(plaintext)
  } catch (error) {
    throw new PixstoreError(`Image ${id} decrypts, but ${(error as Error).message.toLowerCase()}`, 'ERR_IMAGE_DAMAGED')
  }
  let content: ImageFormat
  try {
    content = detectImageFormat(framed.image, IMAGE_FORMAT_NAMES)
  } catch (error) {
    throw new PixstoreError(`Image ${id} decrypts, but: ${(error as Error).message}`, 'ERR_IMAGE_DAMAGED')
  }
  const sameFormat = content.name === framed.format.name || (content.name === 'jpg' && framed.format.name === 'jpeg')
  if (!sameFormat) throw new PixstoreError(`Image ${id} is framed as ${framed.format.name} but its content is ${content.name}`, 'ERR_IMAGE_DAMAGED')
  return framed
}

/** A stored image (its key already unwrapped) checked as `openFramedImage` does, and its format byte against the store's. */
export function checkStoredImage(id: string, ciphertext: Uint8Array, meta: RawImageMeta & { format: number }): void {
  const { format } = openFramedImage(id, ciphertext, meta)
  if (format.byte !== meta.format) throw new PixstoreError(`Image ${id} is recorded as format byte ${meta.format} but holds ${format.name}`, 'ERR_IMAGE_DAMAGED')
}
