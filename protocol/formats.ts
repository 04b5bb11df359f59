import { PixstoreError } from './errors'
/**
 * The format byte that prefixes every encrypted image. The table is fixed by
 * the Pixstore 3.x wire format (1-4) plus our additions (5-6); it must never be
 * derived from configuration order, or stored images would change meaning.
 */
export const IMAGE_FORMATS = [
  { byte: 1, name: 'png', mimeType: 'image/png' },
  { byte: 2, name: 'webp', mimeType: 'image/webp' },
  { byte: 3, name: 'jpg', mimeType: 'image/jpeg' },
  { byte: 4, name: 'jpeg', mimeType: 'image/jpeg' },
  { byte: 5, name: 'gif', mimeType: 'image/gif' },
  { byte: 6, name: 'avif', mimeType: 'image/avif' },
] as const

export type ImageFormat = (typeof IMAGE_FORMATS)[number]
export type ImageFormatName = ImageFormat['name']

export const IMAGE_FORMAT_NAMES: readonly ImageFormatName[] = IMAGE_FORMATS.map((f) => f.name)

export function imageFormatByName(name: string): ImageFormat | undefined {
  return IMAGE_FORMATS.find((f) => f.name === name)
}

export function imageFormatByByte(byte: number): ImageFormat | undefined {
  return IMAGE_FORMATS.find((f) => f.byte === byte)
}

/** Raised when decrypted bytes do not start with a known format byte. */
export class ImageFrameError extends PixstoreError {
  override name = 'ImageFrameError'
  constructor(message: string) {
    super(message, 'ERR_IMAGE_FRAME')
  }
}

/** The plaintext that gets encrypted: `[format byte][image file bytes]`. */
export function frameImage(format: ImageFormat, image: Uint8Array): Uint8Array {
  const framed = new Uint8Array(image.length + 1)
  framed[0] = format.byte
  framed.set(image, 1)
  return framed
}

/** Splits decrypted plaintext back into format and image bytes (a view, no copy). */
export function unframeImage(plaintext: Uint8Array): { format: ImageFormat; image: Uint8Array } {
  if (plaintext.length < 2) throw new ImageFrameError('Decrypted image is empty')
  const format = imageFormatByByte(plaintext[0]!)
  if (!format) throw new ImageFrameError(`Unknown image format byte ${plaintext[0]}`)
  return { format, image: plaintext.subarray(1) }
}
