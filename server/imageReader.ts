import type { Readable } from 'node:stream'
import { CiphertextCache } from './ciphertextCache'
import { ImageDataMissingError } from './errors'
import type { ImageStore, StoredCiphertext, StoredImage } from './stores/imageStore'

/** The ciphertext of one version, whole (shared, counted until `release`) or as a stream of its file. */
export interface ServedCiphertext {
  image: StoredImage
  body: Buffer | Readable
  length: number
  /** Call once the answer is sent or abandoned: the buffer stops counting against memoryCacheBytes. */
  release: () => void
}

const NOTHING_TO_RELEASE = () => {}
/** At most this many lost images are remembered (and logged once each). */
const MAX_REPORTED_MISSING = 10_000

/**
 * The endpoint's read path: which bytes answer a request, and what that
 * costs in memory. Whole ciphertexts are read once per version (concurrent
 * misses for one version share one read, and a read never answers for an
 * older version than the one asked) and every buffer an answer still holds
 * counts against `memoryCacheBytes`; when the budget is full, a store that
 * can stream (files) streams, so slow or stalled readers cannot make the
 * process hold more than the budget plus a socket buffer each.
 */
export class ImageReader {
  private readonly cache: CiphertextCache | null
  private readonly loading = new Map<string, Promise<StoredCiphertext | null>>()
  readonly #reportedMissing = new Set<string>()
  #failures = 0

  constructor(
    private readonly store: ImageStore,
    memoryCacheBytes: number,
    private readonly log: (message: string) => void = (message) => console.error(message),
  ) {
    this.cache = memoryCacheBytes > 0 ? new CiphertextCache(memoryCacheBytes) : null
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
   * consistent either way; never an older one).
   */
  async ciphertextOf(image: StoredImage, allowStream: boolean): Promise<ServedCiphertext | null> {
    const key = CiphertextCache.key(image)
    const cached = this.cache?.get(key)
    if (cached) return { image, body: cached, length: cached.length, release: this.cache!.pin(key, cached) }
    const expectedLength = image.size + 1 // GCM keeps the length of [format byte][image]
    const canStream = allowStream && this.store.readStream !== undefined
    if (canStream && (!this.cache || expectedLength > this.cache.maxEntryBytes)) return this.stream(image.id)
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
   * A request failed. A lost file is NotFound to clients and logged once per
   * image; any other failure (the database is down) is logged once when an
   * outage starts, not per request: a stack per request would fill the disk
   * during an outage (40,112 lines in 16 s were measured).
   */
  failed(error: unknown): void {
    if (error instanceof ImageDataMissingError) {
      if (this.#reportedMissing.size < MAX_REPORTED_MISSING && !this.#reportedMissing.has(error.imageId)) {
        this.#reportedMissing.add(error.imageId)
        this.log(`[pixstore] ${error.message}`)
      }
      return
    }
    if (this.#failures++ === 0) {
      this.log(`[pixstore] endpoint failure (further failures are counted until the store answers again): ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}
