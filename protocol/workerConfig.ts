import { isValidImageId } from './record'

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
  })
}

/** Checks an untrusted config (from a message or a URL); null when any part is wrong. */
export function parseWorkerConfig(value: unknown): WorkerConfig | null {
  const { backendOrigin, route, imageCache, proofTransport = DEFAULT_PROOF_TRANSPORT } = (value ?? {}) as Partial<Record<keyof WorkerConfig, unknown>>
  if (typeof backendOrigin !== 'string' || !/^https?:\/\/[^/?#]+$/.test(backendOrigin) || !isValidRoute(route)) return null
  const { maxEntries, maxAgeSeconds, persist } = (imageCache ?? {}) as Partial<Record<keyof ImageCacheConfig, unknown>>
  if (!isValidCacheEntries(maxEntries) || !isValidCacheAge(maxAgeSeconds) || typeof persist !== 'boolean') return null
  if (!PROOF_TRANSPORTS.includes(proofTransport as ProofTransport)) return null
  return { backendOrigin, route, imageCache: { maxEntries, maxAgeSeconds, persist }, proofTransport: proofTransport as ProofTransport }
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
