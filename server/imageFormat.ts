import { fileTypeFromBuffer } from 'file-type'
import { imageFormatByName, type ImageFormat, type ImageFormatName } from '../protocol/formats'
import { PixstoreError } from './errors'
import { findStructureProblem } from './imageStructure'

/**
 * Detects the format from the file's content (never its name), checks it
 * against the configured formats and that the whole file is that image. A JPEG file is format "jpg" (byte 3);
 * configuring either "jpg" or "jpeg" allows JPEG files.
 */
export async function detectImageFormat(bytes: Uint8Array, allowed: readonly ImageFormatName[]): Promise<ImageFormat> {
  const format = await sniffImageFormat(bytes, allowed)
  assertCompleteImage(format, bytes)
  return format
}

/** The first half of detectImageFormat: the format from the content, and that it is allowed. */
export async function sniffImageFormat(bytes: Uint8Array, allowed: readonly ImageFormatName[]): Promise<ImageFormat> {
  const detected = await fileTypeFromBuffer(bytes)
  const format = detected && imageFormatByName(detected.ext)
  if (!format) throw new PixstoreError('Invalid image file: not a PNG, JPEG, WebP, GIF or AVIF image', 'ERR_INVALID_IMAGE')
  const isAllowed = allowed.includes(format.name) || (format.name === 'jpg' && allowed.includes('jpeg'))
  if (!isAllowed) throw new PixstoreError(`Invalid image file: format "${format.name}" is not in imageFormats`, 'ERR_INVALID_IMAGE')
  return format
}

/** The second half: the whole file is that image (a walk over all of it, so saving runs it while the disk works). */
export function assertCompleteImage(format: ImageFormat, bytes: Uint8Array): void {
  const problem = findStructureProblem(format.name, bytes)
  if (problem) throw new PixstoreError(`Invalid image file: not a complete ${format.name.toUpperCase()} image (${problem})`, 'ERR_INVALID_IMAGE')
}
