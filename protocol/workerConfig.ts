import { chunkedPayloadLength } from './chunked'
import { DEFAULT_MAX_IMAGE_BYTES } from './defaults'
import { isValidImageId } from './record'
import { UPDATED_HEADER_LENGTH } from './wire'

/**
 * Where the worker finds the backend. Not secret, so the page also writes it
 * into the worker's script URL: a worker restarted by the browser reads it
 * from `self.location` before any page has spoken to it.
 */
export interface WorkerConfig {
  /** e.g. `https://api.example.com:7482` */
  backendOrigin: string
  /** e.g. `/pixstore-image` */
  route: string
  imageCache: ImageCacheConfig
  /** How proof and token travel to the backend; see sw/proofTransport.ts. */
  proofTransport: ProofTransport
  /**
   * The largest image the worker takes from a backend, in bytes of the image
   * file: a longer answer (maxAnswerBytes) fails with TooLarge instead of
   * filling the worker's memory. As large as the backend's `maxImageBytes`.
   */
  maxImageBytes: number
}

/** `'auto'`: query parameters to another origin, falling back to headers for a backend that wants them (Pixstore 3.x). */
export type ProofTransport = 'auto' | 'query' | 'headers'
export const PROOF_TRANSPORTS: readonly ProofTransport[] = ['auto', 'query', 'headers']
export const DEFAULT_PROOF_TRANSPORT: ProofTransport = 'auto'

/** The part of the config that says where images come from. */
export type BackendLocation = Pick<WorkerConfig, 'backendOrigin' | 'route'>

/** How the worker keeps decrypted images (the page's `imageCache` option, defaults filled in). */
export interface ImageCacheConfig {
  /** Images kept at most; the least recently used go first. */
  maxEntries: number
  /** An image older than this is fetched again. */
  maxAgeSeconds: number
  /** false: images live only in the worker's memory, nothing is written to Cache Storage. */
  persist: boolean
}

export const DEFAULT_IMAGE_CACHE: ImageCacheConfig = { maxEntries: 500, maxAgeSeconds: 7 * 24 * 60 * 60, persist: true }
/** Bounds that keep a typo (or a hostile script URL) from asking for an unbounded cache. */
export const MAX_CACHE_ENTRIES = 100_000
export const MAX_CACHE_AGE_SECONDS = 365 * 24 * 60 * 60

/** What `maxImageBytes` may be set to: a browser cannot hold an ArrayBuffer much larger. */
export const MAX_IMAGE_BYTES_LIMIT = 2 ** 31

export function isValidMaxImageBytes(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= MAX_IMAGE_BYTES_LIMIT
}

/**
 * The longest answer a backend may send for an image of at most
 * `maxImageBytes`: the chunked form with ChunkedUpdated's head, the longer of
 * the two forms (the whole form is the same head and the framed image).
 */
export function maxAnswerBytes(maxImageBytes: number): number {
  return UPDATED_HEADER_LENGTH + chunkedPayloadLength(maxImageBytes + 1)
}

export function isValidCacheEntries(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_CACHE_ENTRIES
}

export function isValidCacheAge(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_CACHE_AGE_SECONDS
}

export function workerScriptUrl(scriptUrl: string, config: WorkerConfig, base: string): string {
  const url = new URL(scriptUrl, base)
  url.searchParams.set('backend', config.backendOrigin)
  url.searchParams.set('route', config.route)
  url.searchParams.set('cacheEntries', String(config.imageCache.maxEntries))
  url.searchParams.set('cacheAge', String(config.imageCache.maxAgeSeconds))
  url.searchParams.set('cachePersist', config.imageCache.persist ? '1' : '0')
  url.searchParams.set('proofTransport', config.proofTransport)
  url.searchParams.set('maxImageBytes', String(config.maxImageBytes))
  return url.href
}

/** The config in a script URL; cache settings missing from an older page's URL take their defaults. */
export function workerConfigFromScriptUrl(scriptUrl: string): WorkerConfig | null {
  const params = new URL(scriptUrl).searchParams
  const number = (name: string) => (params.has(name) ? Number(params.get(name)) : undefined)
  return parseWorkerConfig({
    backendOrigin: params.get('backend'),
    route: params.get('route'),
    imageCache: {
      maxEntries: number('cacheEntries') ?? DEFAULT_IMAGE_CACHE.maxEntries,
      maxAgeSeconds: number('cacheAge') ?? DEFAULT_IMAGE_CACHE.maxAgeSeconds,
      persist: params.has('cachePersist') ? params.get('cachePersist') !== '0' : DEFAULT_IMAGE_CACHE.persist,
    },
    proofTransport: params.get('proofTransport') ?? DEFAULT_PROOF_TRANSPORT,
    maxImageBytes: number('maxImageBytes') ?? DEFAULT_MAX_IMAGE_BYTES,
  })
}

/** Checks an untrusted config (from a message or a URL); null when any part is wrong. Fields an older page does not send take their defaults. */
export function parseWorkerConfig(value: unknown): WorkerConfig | null {
  const { backendOrigin, route, imageCache, proofTransport = DEFAULT_PROOF_TRANSPORT, maxImageBytes = DEFAULT_MAX_IMAGE_BYTES } = (value ?? {}) as Partial<Record<keyof WorkerConfig, unknown>>
  if (typeof backendOrigin !== 'string' || !/^https?:\/\/[^/?#]+$/.test(backendOrigin) || !isValidRoute(route)) return null
  const { maxEntries, maxAgeSeconds, persist } = (imageCache ?? {}) as Partial<Record<keyof ImageCacheConfig, unknown>>
  if (!isValidCacheEntries(maxEntries) || !isValidCacheAge(maxAgeSeconds) || typeof persist !== 'boolean') return null
  if (!PROOF_TRANSPORTS.includes(proofTransport as ProofTransport) || !isValidMaxImageBytes(maxImageBytes)) return null
  return { backendOrigin, route, imageCache: { maxEntries, maxAgeSeconds, persist }, proofTransport: proofTransport as ProofTransport, maxImageBytes }
}

/** A route is a plain absolute path without a trailing slash, e.g. `/pixstore-image`. */
export function isValidRoute(route: unknown): route is string {
  return typeof route === 'string' && /^(\/[A-Za-z0-9._~-]+)+$/.test(route)
}

/** Where the worker fetches an image: `{backendOrigin}{route}/{id}`. */
export function backendImageUrl(config: BackendLocation, id: string): string {
  return `${config.backendOrigin}${config.route}/${id}`
}

/**
 * The image id a URL asks for, or null when it is no Pixstore image URL. Both
 * `{route}/{id}` on the backend origin and on `ownOrigin` (the page's, which is
 * the worker's) count, so pages can use short same-origin paths. The query is ignored.
 */
export function imageIdFromUrl(url: URL, config: BackendLocation, ownOrigin: string): string | null {
  if (url.origin !== ownOrigin && url.origin !== config.backendOrigin) return null
  const prefix = `${config.route}/`
  if (!url.pathname.startsWith(prefix)) return null
  let id: string
  try {
    id = decodeURIComponent(url.pathname.slice(prefix.length))
  } catch {
    return null
  }
  return isValidImageId(id) ? id : null
}
