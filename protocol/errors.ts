/**
 * Pixstore's expected failures, one hierarchy with a stable `code` to match on
 * (messages may be reworded; codes do not change). Anything that is not a
 * PixstoreError is a bug or an outage.
 */
export type PixstoreErrorCode =
  /** Not one complete image of an allowed format, or not bytes at all. */
  | 'ERR_INVALID_IMAGE'
  /** Bigger than maxImageBytes. */
  | 'ERR_IMAGE_TOO_LARGE'
  | 'ERR_INVALID_ID'
  | 'ERR_INVALID_DIR'
  | 'ERR_INVALID_TOKEN'
  | 'ERR_IMAGE_NOT_FOUND'
  | 'ERR_IMAGE_EXISTS'
  /** The row exists but its ciphertext file is gone. */
  | 'ERR_IMAGE_DATA_MISSING'
  /** Stored or imported ciphertext that does not decrypt to the image its meta says. */
  | 'ERR_IMAGE_DAMAGED'
  /** A stored image key that no configured key encryption key unwraps (moved to another row, altered, or the KEK is missing). */
  | 'ERR_KEY_UNWRAP'
  /** A source file for saveImageFromFile / updateImageFromFile cannot be read. */
  | 'ERR_FILE_UNREADABLE'
  | 'ERR_CONFIG'
  /** A call made in the wrong order (a second init, a missing handler). */
  | 'ERR_USAGE'

export class PixstoreError extends Error {
  override name = 'PixstoreError'

  constructor(
    message: string,
    readonly code: PixstoreErrorCode,
  ) {
    super(message)
  }
}

/** A configuration value that is not allowed; the message names the field. */
export class PixstoreConfigError extends PixstoreError {
  override name = 'PixstoreConfigError'

  constructor(message: string) {
    super(message, 'ERR_CONFIG')
  }
}

/** The image's row exists but its ciphertext is gone: it cannot be served until it is updated or deleted. */
export class ImageDataMissingError extends PixstoreError {
  override name = 'ImageDataMissingError'

  constructor(readonly imageId: string) {
    super(`Image ${imageId}: its ciphertext file is missing (run "pixstore verify" to find others; updateImage or deleteImage fixes it)`, 'ERR_IMAGE_DATA_MISSING')
  }
}
