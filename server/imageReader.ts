import { Readable } from 'node:stream'
import { isValidImageId } from '../protocol/record'
import { encodeWireHead, PixstoreState, type PixstoreStateCode, type RawImageMeta } from '../protocol/wire'
import { chunkedAnswer, CHUNKED_MIN_PLAINTEXT } from './chunkedAnswer'
import { CiphertextCache } from './ciphertextCache'
import { ImageDataMissingError, PixstoreError } from './errors'
import type { ImageStore, StoredCiphertext, StoredImage } from './stores/imageStore'

/** Head and ciphertext of one answer; `body` is null for one-byte states. */
export interface WireAnswer {
  head: Uint8Array
  body: Buffer | Readable | null
  /** head + body bytes, for Content-Length. */
  length: number
  /** Call once the answer is sent or abandoned: a whole body stops counting against memoryCacheBytes. */
  release?: () => void
}

/** What answering needs beyond the store: the proof check (null: proofs disabled) and the key unwrap (only Updated answers carry a key). */
export interface AnswerAccess {
  verifyProof: ((id: string, proof: string) => boolean) | null
  unwrapKey: (stored: Uint8Array, id: string) => Promise<Buffer>
}

/** The ciphertext of one version, whole (shared, counted until `release`) or as a stream of its file. */
export interface ServedCiphertext {
  image: StoredImage
  body: Buffer | Readable
  length: number
  /** Call once the answer is sent or abandoned: the buffer stops counting against memoryCacheBytes. */
  release: () => void
}

const NOTHING_TO_RELEASE = () => {}
/** At most this many damaged images (lost file, key that does not unwrap) are logged, once each; the rest are counted. */
const MAX_REPORTED_IMAGES = 100

/**
 * The endpoint's read path: which bytes answer a request, and what that
 * costs in memory. Whole ciphertexts are read once per version (concurrent
 * misses for one version share one read, and a read never answers for an
 * older version than the one asked) and every buffer an answer still holds
 * counts against `memoryCacheBytes`; when the budget is full, a store that
 * can stream (files) streams, so slow or stalled readers cannot make the
 * process hold more than the budget plus a socket buffer each. `answer`
 * turns a request into its wire answer; its failures are logged by one
 * bounded rule (`failed`).
 */
export class ImageReader {
  private readonly cache: CiphertextCache | null
  private readonly loading = new Map<string, Promise<StoredCiphertext | null>>()
  readonly #reportedImages = new Set<string>()
  #unreportedImages = 0
  #failures = 0

  constructor(
    private readonly store: ImageStore,
    memoryCacheBytes: number,
    private readonly access: AnswerAccess = { verifyProof: null, unwrapKey: () => Promise.reject(new Error('no key access')) },
    private readonly log: (message: string) => void = (message) => console.error(message),
  ) {
    this.cache = memoryCacheBytes > 0 ? new CiphertextCache(memoryCacheBytes) : null
  }

  /**
   * The answer to one image request as head + ciphertext, so the endpoint can
   * send a cached or streamed ciphertext without copying it. Never throws:
   * failures become NotFound (a lost file) or InternalError, logged by `failed`.
   * `chunked` (the client asked, see acceptsChunked): an image over
   * CHUNKED_MIN_PLAINTEXT is answered ChunkedSuccess/ChunkedUpdated,
   * transcoded from the stored whole form as the socket takes it (chunkedAnswer.ts).
   */
  async answer(id: string | null | undefined, clientToken: unknown, proof: string | null | undefined, stream: boolean, chunked = false): Promise<WireAnswer> {
    try {
      if (!id) return stateOnly(PixstoreState.MissingID)
      if (this.access.verifyProof) {
        if (!proof) return stateOnly(PixstoreState.MissingProof)
        if (!this.access.verifyProof(id, proof)) return stateOnly(PixstoreState.InvalidProof)
      }
      if (!isValidImageId(id)) return stateOnly(PixstoreState.NotFound)
      const token = parseClientToken(clientToken)
      const cached = await this.currentFromCache(id, token)
      if (cached && (!chunked || cached.body.length <= CHUNKED_MIN_PLAINTEXT)) {
        return { head: SUCCESS_HEAD, body: cached.body, length: SUCCESS_HEAD.length + cached.body.length, release: cached.release }
      }
      cached?.release()
      const current = await this.store.get(id)
      // A chunked answer goes out a record at a time: from the file at once, not after reading the whole image.
      const version = current && (await this.ciphertextOf(current, stream, chunked && current.size + 1 > CHUNKED_MIN_PLAINTEXT))
      this.succeeded()
      if (!version) return stateOnly(PixstoreState.NotFound)
      const { image } = version
      // Only an Updated or a chunked answer carries or uses the key: Success (the hot path) never unwraps.
      let head: Uint8Array = SUCCESS_HEAD
      const updated = token !== image.token
      const asChunks = chunked && version.length > CHUNKED_MIN_PLAINTEXT
      if (updated || asChunks) {
        let meta: RawImageMeta
        try {
          meta = { ...image, key: await this.access.unwrapKey(image.key, image.id) }
        } catch (error) {
          abandon(version)
          throw error
        }
        if (asChunks) return { ...chunkedAnswer(version, meta, updated ? image.token : null), release: version.release }
        head = encodeWireHead({ state: PixstoreState.Updated, token: image.token, meta })
      }
      return { head, body: version.body, length: head.length + version.length, release: version.release }
    } catch (error) {
      // A lost file is NotFound to clients, as imageExists says.
      this.failed(error, id ?? '')
      return stateOnly(error instanceof ImageDataMissingError ? PixstoreState.NotFound : PixstoreState.InternalError)
    }
  }

  /**
   * The common request in one narrow lookup: the client already holds the
   * current version and the cache has its ciphertext. A profile of the
   * endpoint showed the full metadata row (three BLOBs, each a Buffer) as a
   * sixth of its CPU; Success needs only what names the version.
   */
  async currentFromCache(id: string, token: number | null): Promise<{ body: Buffer; release: () => void } | null> {
    if (!this.cache || !this.store.version || token === null) return null
    const version = await this.store.version(id)
    if (version?.token !== token) return null
    const key = CiphertextCache.key(version)
    const ciphertext = this.cache.get(key)
    return ciphertext ? { body: ciphertext, release: this.cache.pin(key, ciphertext) } : null
  }

  /**
   * The ciphertext of `image`'s version, or of a newer one if it changed
   * meanwhile (the answer then carries that version's meta, so it is
   * consistent either way; never an older one). `preferStream`: an answer
   * sent as it is read (chunked) streams a version the cache does not hold;
   * a whole read first would delay its first byte by the whole image's read
   * (170 ms for 8 MB in the paced bench's first round).
   */
  async ciphertextOf(image: StoredImage, allowStream: boolean, preferStream = false): Promise<ServedCiphertext | null> {
    const key = CiphertextCache.key(image)
    const cached = this.cache?.get(key)
    if (cached) return { image, body: cached, length: cached.length, release: this.cache!.pin(key, cached) }
    const expectedLength = image.size + 1 // GCM keeps the length of [format byte][image]
    const canStream = allowStream && this.store.readStream !== undefined
    if (canStream && (preferStream || !this.cache || expectedLength > this.cache.maxEntryBytes)) return this.stream(image.id)
    // Shared per version: a read started for an older version must not answer a client that holds a newer one.
    let loading = this.loading.get(key)
    if (!loading) {
      const reserved = this.cache?.reserve(expectedLength) ?? false
      if (!reserved && canStream) return this.stream(image.id) // the budget is held by answers in flight
      loading = this.store.read(image.id).then(
        (found) => {
          if (reserved) this.cache!.unreserve(expectedLength)
          if (found) this.cache?.set(CiphertextCache.key(found.image), found.ciphertext)
          return found
        },
        (error: unknown) => {
          if (reserved) this.cache!.unreserve(expectedLength)
          throw error
        },
      )
      const shared = loading
      void shared.finally(() => this.loading.get(key) === shared && this.loading.delete(key)).catch(() => {})
      this.loading.set(key, loading)
    }
    const found = await loading
    if (!found) return null
    const release = this.cache ? this.cache.pin(CiphertextCache.key(found.image), found.ciphertext) : NOTHING_TO_RELEASE
    return { image: found.image, body: found.ciphertext, length: found.ciphertext.length, release }
  }

  private async stream(id: string): Promise<ServedCiphertext | null> {
    const opened = await this.store.readStream!(id)
    return opened && { image: opened.image, body: opened.stream, length: opened.size, release: NOTHING_TO_RELEASE }
  }

  /** The request reached the store and got an answer: ends an outage, saying how many requests it failed. */
  succeeded(): void {
    if (this.#failures === 0) return
    this.log(`[pixstore] the image store answers again; ${this.#failures} request${this.#failures === 1 ? '' : 's'} failed meanwhile`)
    this.#failures = 0
  }

  /**
   * The one logging rule of the read path. A fault of one image (its file is
   * lost, its stored key does not unwrap) is logged once per image, for the
   * first MAX_REPORTED_IMAGES images, then counted; any other failure (the
   * database is down) is logged once when an outage starts, not per request:
   * a stack per request would fill the disk during an outage (40,112 lines in
   * 16 s were measured). A per-image fault does not end or start an outage.
   */
  failed(error: unknown, id: string): void {
    if (error instanceof ImageDataMissingError || (error instanceof PixstoreError && error.code === 'ERR_KEY_UNWRAP')) {
      if (this.#reportedImages.has(id)) return
      if (this.#reportedImages.size < MAX_REPORTED_IMAGES) {
        this.#reportedImages.add(id)
        this.log(`[pixstore] ${error.message}${this.#reportedImages.size === MAX_REPORTED_IMAGES ? ` (${MAX_REPORTED_IMAGES} damaged images logged; further ones are not)` : ''}`)
      } else {
        this.#unreportedImages++
      }
      return
    }
    if (this.#failures++ === 0) {
      this.log(`[pixstore] endpoint failure (further failures are counted until the store answers again): ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

const SUCCESS_HEAD = Uint8Array.of(PixstoreState.Success)

const stateOnly = (state: Exclude<PixstoreStateCode, 0 | 1>): WireAnswer => ({ head: Uint8Array.of(state), body: null, length: 1 })

/** Lets go of a ciphertext read for an answer that will not be sent: its file closes, its buffer stops counting. */
function abandon(version: ServedCiphertext): void {
  if (version.body instanceof Readable) version.body.destroy()
  version.release()
}

/** Decimal token from a header (or a number); anything else counts as no token. */
export function parseClientToken(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return null
  const token = Number(value)
  return Number.isSafeInteger(token) ? token : null
}
