import { randomBytes } from 'node:crypto'
import { imageFormatByByte } from '../protocol/formats'
import { encodeImageMeta, isValidImageId, type ImageRecord } from '../protocol/record'
import { KEY_LENGTH, type RawImageMeta } from '../protocol/wire'
import { readFileWithin } from './boundedFile'
import { resolveConfig, type PixstoreConfig } from './config'
import { encryptImageInChunks } from './crypto'
import { customModeWithoutHandler, ErrorPolicy, ImageDataMissingError, PixstoreError, type CustomErrorHandler } from './errors'
import { checkStoredImage, openFramedImage } from './imageCheck'
import { assertCompleteImageInSlices, sniffImageFormat } from './imageFormat'
import { createImageId } from './imageId'
import { proofExpiry, ProofVerifier, proofWindow, signProof, type ProofKeys } from './proof'
import { checkStoreKeys } from './keys/keyCheck'
import type { KeyRing } from './keys/keyRing'
import { redactSecrets, resolveSecrets } from './secrets'
import { ImageReader, type WireAnswer } from './imageReader'
import type { ImageStore, NewImageVersion, StoredImage } from './stores/imageStore'
import { openImageStore } from './stores/openImageStore'

export { parseClientToken, type WireAnswer } from './imageReader'

export interface PixstoreBackendOptions {
  customErrorHandler?: CustomErrorHandler
  /** Where PIXSTORE_SECRET is read from; process.env by default. */
  env?: Record<string, string | undefined>
  /** Clock for proofs; tests move it instead of sleeping. */
  now?: () => number
}

/**
 * One Pixstore store with its own config: encrypts, stores, signs proofs and
 * builds wire payloads. Create as many as you like; the module-level API in
 * index.ts drives the one `initPixstoreBackend` made.
 */
export class PixstoreBackend {
  /** The resolved config, secrets shown as "[redacted]": they live only in private fields. */
  readonly config: Readonly<PixstoreConfig>
  readonly store: ImageStore
  private readonly errors: ErrorPolicy
  // A real #private field: util.inspect and JSON.stringify cannot reach it.
  readonly #proofKeys: ProofKeys
  /** Key encryption keys: stored image keys are wrapped under them and unwrapped only for records and Updated answers. */
  readonly #keys: KeyRing
  #keysChecked: Promise<void> | null = null
  private readonly now: () => number
  private readonly proofs: ProofVerifier
  private readonly reader: ImageReader

  constructor(config: Partial<PixstoreConfig> = {}, options: PixstoreBackendOptions = {}) {
    const env = options.env ?? process.env
    const resolved = resolveConfig(config, env)
    const secrets = resolveSecrets(resolved, env, console.warn)
    this.#proofKeys = secrets.proofKeys
    this.#keys = secrets.keyRing
    this.config = Object.freeze(redactSecrets(resolved))
    this.errors = new ErrorPolicy(this.config.errorHandlingMode)
    this.errors.customHandler = options.customErrorHandler ?? null
    if (this.config.errorHandlingMode === 'custom' && !this.errors.customHandler) {
      throw customModeWithoutHandler('errorHandlingMode "custom" needs a handler: call setCustomErrorHandler(fn) before initPixstoreBackend')
    }
    if (this.config.statelessKeyWindowLength === -1) {
      console.warn('[pixstore] statelessKeyWindowLength is -1: proof validation is DISABLED, anyone who knows an id can fetch its ciphertext.')
    }
    this.now = options.now ?? Date.now
    this.proofs = new ProofVerifier(this.#proofKeys, this.config.statelessKeyWindowLength)
    this.store = openImageStore(this.config)
    const windowLength = this.config.statelessKeyWindowLength
    this.reader = new ImageReader(this.store, this.config.memoryCacheBytes, {
      verifyProof: windowLength === -1 ? null : (id, proof) => this.proofs.verify(id, proof, this.now()),
      unwrapKey: (stored, id) => this.#keys.unwrap(stored, id),
    })
  }

  get lastError(): PixstoreError | null {
    return this.errors.lastError
  }

  setCustomErrorHandler(handler: CustomErrorHandler | null): void {
    this.errors.customHandler = handler
  }

  saveImage(buffer: Uint8Array, dir?: string): Promise<ImageRecord | null> {
    return this.errors.run(async () => {
      const id = await createImageId(dir, (candidate) => this.store.has(candidate))
      const { version, key } = await this.encrypt(buffer, id)
      return this.toRecord(await this.store.insert(id, version), key)
    })
  }

  saveImageFromFile(filePath: string, dir?: string): Promise<ImageRecord | null> {
    return this.errors.run(async () => this.saveImage(await this.readImageFile(filePath), dir))
  }

  updateImage(id: string, buffer: Uint8Array): Promise<ImageRecord | null> {
    return this.errors.run(async () => {
      assertValidId(id)
      const { version, key } = await this.encrypt(buffer, id)
      const updated = await this.store.replace(id, version)
      if (!updated) throw new PixstoreError(`Image not found: ${id}`, 'ERR_IMAGE_NOT_FOUND')
      return this.toRecord(updated, key)
    })
  }

  updateImageFromFile(id: string, filePath: string): Promise<ImageRecord | null> {
    return this.errors.run(async () => this.updateImage(id, await this.readImageFile(filePath)))
  }

  deleteImage(id: string): Promise<boolean | null> {
    return this.errors.run(async () => {
      assertValidId(id)
      return this.store.delete(id)
    })
  }

  /** True when the endpoint can serve `id`: a row whose ciphertext is there (a lost file counts as absent). */
  imageExists(id: string): Promise<boolean | null> {
    return this.errors.run(async () => {
      if (!isValidImageId(id)) return false
      return this.servable(id).then(
        (image) => image !== null,
        (error) => (error instanceof ImageDataMissingError ? false : Promise.reject(error)),
      )
    })
  }

  /** The record to hand to the browser, with a proof fresh for this window. */
  getImageRecord(id: string): Promise<ImageRecord | null> {
    return this.errors.run(async () => {
      assertValidId(id)
      const image = await this.servable(id)
      if (!image) throw new PixstoreError(`Image not found: ${id}`, 'ERR_IMAGE_NOT_FOUND')
      return this.toRecord(image)
    })
  }

  /**
   * Fresh records for the ids that exist, in the order asked, each once.
   * Unknown and malformed ids are left out rather than failing the batch, so
   * an app's refresh endpoint can pass the page's list straight through.
   */
  getImageRecords(ids: readonly string[]): Promise<ImageRecord[] | null> {
    const MAX_RECORDS_PER_CALL = 1000
    return this.errors.run(async () => {
      if (!Array.isArray(ids)) throw new PixstoreError('getImageRecords expects an array of image ids', 'ERR_USAGE')
      if (ids.length > MAX_RECORDS_PER_CALL) throw new PixstoreError(`getImageRecords takes at most ${MAX_RECORDS_PER_CALL} ids per call, got ${ids.length}`, 'ERR_USAGE')
      const records: ImageRecord[] = []
      for (const id of new Set(ids)) {
        // A lost file is left out like an unknown id: the endpoint could not serve it either.
        const image = isValidImageId(id) ? await this.servable(id).catch((error) => (error instanceof ImageDataMissingError ? null : Promise.reject(error))) : null
        if (image) records.push(await this.toRecord(image))
      }
      return records
    })
  }

  /**
   * Stores an image that is already encrypted (an import from Pixstore 3.x or
   * another store), keeping its id, token, key, iv and tag so records apps
   * already hold keep decrypting. It must decrypt to a complete image whose
   * format byte matches its content; an existing id is refused.
   */
  importEncryptedImage(image: EncryptedImageImport): Promise<ImageRecord | null> {
    return this.errors.run(async () => {
      assertValidId(image.id)
      if (!Number.isSafeInteger(image.token) || image.token < 0) throw new PixstoreError(`Invalid token for image ${image.id}`, 'ERR_INVALID_TOKEN')
      this.assertWithinSizeLimit(image.ciphertext.length - 1)
      const { format, image: bytes } = openFramedImage(image.id, image.ciphertext, image.meta)
      if (await this.store.has(image.id)) throw new PixstoreError(`Image already exists: ${image.id}`, 'ERR_IMAGE_EXISTS')
      const meta = { ...image.meta, key: await this.storedKey(image.meta.key, image.id) }
      const version = { ciphertext: image.ciphertext, meta, format: format.byte, size: bytes.length, token: image.token }
      return this.toRecord(await this.store.insert(image.id, version), image.meta.key)
    })
  }

  /** Reads, decrypts and checks one stored image; true when it is a complete image of its recorded format. */
  verifyImage(id: string): Promise<true | null> {
    return this.errors.run(async () => {
      assertValidId(id)
      const found = await this.store.read(id)
      if (!found) throw new PixstoreError(`Image not found: ${id}`, 'ERR_IMAGE_NOT_FOUND')
      checkStoredImage(id, found.ciphertext, { ...found.image, key: await this.#keys.unwrap(found.image.key, id) })
      return true as const
    })
  }

  createStatelessProof(id: string): string {
    return this.proofFor(id).statelessProof
  }

  /** A fresh proof and, when proofs expire, when (so a page can refresh it before the endpoint refuses it). */
  private proofFor(id: string): Pick<ImageRecord, 'statelessProof' | 'proofExpiresAt'> {
    const windowLength = this.config.statelessKeyWindowLength
    if (windowLength === -1) return { statelessProof: signProof(this.#proofKeys.current, id, 0) }
    const window = proofWindow(this.now(), windowLength)
    return { statelessProof: signProof(this.#proofKeys.current, id, window), proofExpiresAt: proofExpiry(window, windowLength) }
  }

  /**
   * The wire bytes for one request, for apps that serve images from their own
   * route. Never throws: failures become the InternalError state.
   */
  async customEndpointHelper(id: string | null | undefined, clientToken: unknown, proof: string | null | undefined): Promise<Uint8Array> {
    const answer = await this.answerRequest(id, clientToken, proof, { stream: false })
    if (!answer.body) return answer.head
    try {
      return Buffer.concat([answer.head, answer.body as Buffer], answer.length)
    } finally {
      answer.release?.()
    }
  }

  /**
   * The answer to one image request as head + ciphertext, so the endpoint can
   * send a cached or streamed ciphertext without copying it. Never throws (see ImageReader.answer).
   * `chunked`: the client asked for chunked answers (acceptsChunked); an
   * image over CHUNKED_MIN_PLAINTEXT then gets ChunkedSuccess/ChunkedUpdated,
   * transcoded from the stored whole form as it is sent (server/chunkedAnswer.ts).
   */
  answerRequest(id: string | null | undefined, clientToken: unknown, proof: string | null | undefined, { stream = true, chunked = false } = {}): Promise<WireAnswer> {
    return this.reader.answer(id, clientToken, proof, stream, chunked)
  }

  /** Prepares the store (schema, crash leftovers) and checks the KEK opens its keys; `initPixstoreBackend` awaits it before serving. */
  async open(): Promise<void> {
    await this.store.open()
    await this.keysChecked()
  }

  close(): Promise<void> {
    return this.store.close()
  }

  /** The current version when its ciphertext is there to serve; ImageDataMissingError when a store that keeps bytes apart lost them. */
  private async servable(id: string): Promise<StoredImage | null> {
    const image = await this.store.get(id)
    if (image && this.store.hasCiphertext && !(await this.store.hasCiphertext(id))) throw new ImageDataMissingError(id)
    return image
  }

  /**
   * Once per backend (again after a failure): refuses a store whose keys the
   * configured KEKs cannot open, and records the current KEK in the store
   * before it wraps its first key there (keys/keyCheck.ts).
   */
  private keysChecked(): Promise<void> {
    this.#keysChecked ??= checkStoreKeys(this.store, this.#keys).catch((error) => {
      this.#keysChecked = null
      throw error
    })
    return this.#keysChecked
  }

  /** A new image key as the store keeps it: wrapped under the current KEK when one is configured. */
  private async storedKey(key: Uint8Array, id: string): Promise<Buffer> {
    if (this.#keys.enabled) await this.keysChecked()
    return this.#keys.wrap(key, id)
  }

  private async encrypt(buffer: Uint8Array, id: string) {
    if (!(buffer instanceof Uint8Array)) throw new PixstoreError('Invalid image file: expected a Buffer or Uint8Array', 'ERR_INVALID_IMAGE')
    this.assertWithinSizeLimit(buffer.length)
    const format = sniffImageFormat(buffer, this.config.imageFormats)
    const key = randomBytes(KEY_LENGTH)
    const storedKey = await this.storedKey(key, id)
    // [format byte][image], framed without a copy, encrypted chunk by chunk as the store writes;
    // the full structure walk runs while the disk syncs, before anything is committed.
    const encryption = encryptImageInChunks([Uint8Array.of(format.byte), buffer], undefined, key)
    const version = {
      ciphertext: encryption.chunks,
      get meta() {
        return { ...encryption.meta, key: storedKey }
      },
      format: format.byte,
      size: buffer.length,
      validate: () => assertCompleteImageInSlices(format, buffer),
    } satisfies NewImageVersion
    return { version, key }
  }

  /** At most maxImageBytes + 1 bytes, from a regular file only (see readFileWithin). */
  private readImageFile(filePath: string): Promise<Buffer> {
    return readFileWithin(filePath, this.config.maxImageBytes)
  }

  private assertWithinSizeLimit(bytes: number): void {
    const limit = this.config.maxImageBytes
    if (bytes > limit) throw new PixstoreError(`Image too large: ${bytes} bytes, the limit (maxImageBytes) is ${limit} bytes`, 'ERR_IMAGE_TOO_LARGE')
  }

  /** `key`: the image key when the caller has it already (a save), so it is not unwrapped again. */
  private async toRecord(image: StoredImage, key?: Uint8Array): Promise<ImageRecord> {
    if (!imageFormatByByte(image.format)) throw new Error(`Stored image ${image.id} has unknown format ${image.format}`)
    return {
      id: image.id,
      token: image.token,
      meta: encodeImageMeta({ ...image, key: key ?? (await this.#keys.unwrap(image.key, image.id)) }),
      ...this.proofFor(image.id),
    }
  }
}

/** An already encrypted image, for `importEncryptedImage`. */
export interface EncryptedImageImport {
  id: string
  token: number
  meta: RawImageMeta
  ciphertext: Uint8Array
}

function assertValidId(id: unknown): asserts id is string {
  if (!isValidImageId(id)) throw new PixstoreError(`Invalid image id "${String(id).slice(0, 64)}"`, 'ERR_INVALID_ID')
}
