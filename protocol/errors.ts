/**
 * Every error the package throws on purpose, in one hierarchy with a stable
 * `code` to match on (messages may be reworded; codes do not change): the
 * server's, the page module's, the worker's, the protocol's and the CLI's.
 * On the server, anything that is not a PixstoreError is a bug or an outage.
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
  /** A call made in the wrong order or with the wrong arguments (a second init, a missing custom error handler, not an array). */
  | 'ERR_USAGE'
  /** Bytes that are not a Pixstore wire payload (`reason` says how). */
  | 'ERR_WIRE_DECODE'
  /** A chunked payload that is not one whole, authentic image (`reason` says how). */
  | 'ERR_CHUNKED_PAYLOAD'
  /** Decrypted bytes that do not start with a known format byte. */
  | 'ERR_IMAGE_FRAME'
  /** The key, iv or tag does not authenticate the ciphertext (the worker's decryption). */
  | 'ERR_IMAGE_DECRYPT'
  /** The worker could not show an image (`state` says why: the wire state or the network). */
  | 'ERR_IMAGE_FAILED'
  /** No answer to a page<->worker message in time. */
  | 'ERR_MESSAGE_TIMEOUT'
  /** The service worker is unavailable, failed, or answered a message with an error. */
  | 'ERR_WORKER'
  /** Page module and worker come from different Pixstore releases. */
  | 'ERR_VERSION_MISMATCH'
  /** A wrong command-line flag, field or argument (exit code 2). */
  | 'ERR_CLI_USAGE'
  /** The app's refreshImageRecords callback timed out or gave no list. */
  | 'ERR_REFRESH'
  /** A CLI command that could not finish (migrate, rekey): the message says what and how to resume. */
  | 'ERR_CLI_FAILED'

export class PixstoreError extends Error {
  override name = 'PixstoreError'

  constructor(
    message: string,
    readonly code: PixstoreErrorCode,
    options?: ErrorOptions,
  ) {
    super(message, options)
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
