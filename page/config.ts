import { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_PORT as DEFAULT_CONNECT_PORT, DEFAULT_ROUTE, DEFAULT_SERVICE_WORKER_URL } from '../protocol/defaults'
import { PixstoreConfigError } from '../protocol/errors'
import type { ImageFailureReport } from '../protocol/messages'
import {
  DEFAULT_IMAGE_CACHE,
  DEFAULT_PROOF_TRANSPORT,
  PROOF_TRANSPORTS,
  type ProofTransport,
  isValidCacheAge,
  isValidCacheEntries,
  isValidMaxImageBytes,
  isValidRoute,
  MAX_CACHE_AGE_SECONDS,
  MAX_CACHE_ENTRIES,
  MAX_IMAGE_BYTES_LIMIT,
  type ImageCacheConfig,
  type WorkerConfig,
} from '../protocol/workerConfig'
import type { RefreshRecords } from './refreshBatcher'

/** What `initPixstoreFrontend` accepts. */
export interface PixstoreFrontendConfig {
  /**
   * The backend's host, with or without scheme and port: `https://api.example.com`,
   * `api.example.com`, `127.0.0.1:7482`, `[::1]`. Without a scheme the page's own is used.
   */
  defaultEndpointConnectHost: string
  /** Used when the host carries no port of its own. Default 7482. */
  defaultEndpointConnectPort?: number
  /** Default `/pixstore-image`; must match the backend's `defaultEndpointRoute`. */
  defaultEndpointRoute?: string
  /** Same-origin URL the worker script is served at. Default `/pixstore-sw.js`. */
  serviceWorkerUrl?: string
  /** Registration scope; must cover the page. Default `/`. */
  scope?: string
  /**
   * Fresh records (new proofs) for images whose proof expired or whose record
   * the page never got; ids asked for at about the same time come in one call.
   * Missing ids are left out. Typically one request to the app's API, which
   * answers with the backend's `getImageRecords(ids)`.
   */
  refreshRecords?: RefreshRecords
  /** Decrypted-image cache limits. Defaults: 500 entries, 7 days unused, in Cache Storage. */
  imageCache?: Partial<ImageCacheConfig>
  /** Called once per image request that finally failed (after any refresh). */
  onImageError?: (event: ImageFailureReport) => void
  /**
   * How proof and token travel to a backend on another origin. `'auto'` (default): query
   * parameters (no CORS preflight), falling back to headers for a backend that answers
   * MissingProof to them (Pixstore 3.x), remembered per backend. `'query'`, `'headers'`: always that form.
   */
  proofTransport?: ProofTransport
  /**
   * The largest image the worker takes from the backend, in bytes of the
   * image file; a longer answer fails with TooLarge instead of filling the
   * worker's memory. Default 25 MiB, the backend's default `maxImageBytes`:
   * raise both together.
   */
  maxImageBytes?: number
}

export interface ResolvedFrontendConfig {
  /** What the worker needs; also written into its script URL. */
  worker: WorkerConfig
  /** Absolute URL of the worker script, without the config query. */
  serviceWorkerUrl: string
  /** Absolute scope URL. */
  scope: string
  refreshRecords?: RefreshRecords
  onImageError?: (event: ImageFailureReport) => void
}

export const DEFAULT_SCOPE = '/'

const FIELDS = ['defaultEndpointConnectHost', 'defaultEndpointConnectPort', 'defaultEndpointRoute', 'serviceWorkerUrl', 'scope', 'refreshRecords', 'imageCache', 'onImageError', 'proofTransport', 'maxImageBytes']
const CACHE_FIELDS = ['maxEntries', 'maxAgeSeconds', 'persist']

export class PixstoreFrontendConfigError extends PixstoreConfigError {
  override name = 'PixstoreFrontendConfigError'
}

/**
 * Validates the whole config against the page's URL before anything is
 * registered, so a typo fails with the field's name instead of broken images.
 */
export function resolveFrontendConfig(input: unknown, pageUrl: string): ResolvedFrontendConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new PixstoreFrontendConfigError('Pixstore frontend config must be an object with at least defaultEndpointConnectHost')
  }
  const config = input as Record<string, unknown>
  for (const field of Object.keys(config)) {
    if (!FIELDS.includes(field)) throw invalid(`Unknown config field "${field}"; allowed fields: ${FIELDS.join(', ')}`)
  }
  const { defaultEndpointConnectHost: host, defaultEndpointConnectPort: port, defaultEndpointRoute: route = DEFAULT_ROUTE } = config
  if (host === undefined || host === null || host === '') {
    throw invalid('defaultEndpointConnectHost is missing: give the backend host, e.g. "api.example.com" or "https://api.example.com:7482"')
  }
  if (typeof host !== 'string') throw invalid(`defaultEndpointConnectHost must be a string, got ${describe(host)}`)
  if (port !== undefined && !isPort(port)) throw invalid(`defaultEndpointConnectPort must be an integer from 1 to 65535, got ${describe(port)}`)
  if (!isValidRoute(route)) {
    throw invalid(`defaultEndpointRoute must be a path like "/pixstore-image" (starts with "/", no trailing "/", characters [A-Za-z0-9._~-]), got ${describe(route)}`)
  }
  const page = new URL(pageUrl)
  const serviceWorkerUrl = sameOriginUrl('serviceWorkerUrl', config.serviceWorkerUrl ?? DEFAULT_SERVICE_WORKER_URL, page)
  const scope = sameOriginUrl('scope', config.scope ?? DEFAULT_SCOPE, page)
  if (!page.href.startsWith(scope)) throw invalid(`scope "${scope}" does not cover this page (${page.href}), so the worker could never serve its images`)
  for (const field of ['refreshRecords', 'onImageError']) {
    if (config[field] !== undefined && typeof config[field] !== 'function') throw invalid(`${field} must be a function, got ${describe(config[field])}`)
  }
  const { proofTransport = DEFAULT_PROOF_TRANSPORT } = config
  if (!PROOF_TRANSPORTS.includes(proofTransport as ProofTransport)) {
    throw invalid(`proofTransport must be one of ${PROOF_TRANSPORTS.map((value) => `"${value}"`).join(', ')}, got ${describe(proofTransport)}`)
  }
  const { maxImageBytes = DEFAULT_MAX_IMAGE_BYTES } = config
  if (!isValidMaxImageBytes(maxImageBytes)) throw invalid(`maxImageBytes must be an integer from 1 to ${MAX_IMAGE_BYTES_LIMIT} (2 GiB), got ${describe(maxImageBytes)}`)
  const resolved: ResolvedFrontendConfig = {
    worker: {
      backendOrigin: resolveBackendOrigin(host, port, page.protocol),
      route,
      imageCache: resolveImageCache(config.imageCache),
      proofTransport: proofTransport as ProofTransport,
      maxImageBytes,
    },
    serviceWorkerUrl,
    scope,
  }
  if (config.refreshRecords) resolved.refreshRecords = config.refreshRecords as RefreshRecords
  if (config.onImageError) resolved.onImageError = config.onImageError as ResolvedFrontendConfig['onImageError']
  return resolved
}

function resolveImageCache(input: unknown): ImageCacheConfig {
  if (input === undefined) return { ...DEFAULT_IMAGE_CACHE }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid(`imageCache must be an object like { maxEntries: 500, maxAgeSeconds: 604800, persist: true }, got ${describe(input)}`)
  const cache = input as Record<string, unknown>
  for (const field of Object.keys(cache)) {
    if (!CACHE_FIELDS.includes(field)) throw invalid(`Unknown imageCache field "${field}"; allowed fields: ${CACHE_FIELDS.join(', ')}`)
  }
  const { maxEntries = DEFAULT_IMAGE_CACHE.maxEntries, maxAgeSeconds = DEFAULT_IMAGE_CACHE.maxAgeSeconds, persist = DEFAULT_IMAGE_CACHE.persist } = cache
  if (!isValidCacheEntries(maxEntries)) throw invalid(`imageCache.maxEntries must be an integer from 1 to ${MAX_CACHE_ENTRIES}, got ${describe(maxEntries)}`)
  if (!isValidCacheAge(maxAgeSeconds)) throw invalid(`imageCache.maxAgeSeconds must be an integer from 1 to ${MAX_CACHE_AGE_SECONDS} (a year), got ${describe(maxAgeSeconds)}`)
  if (typeof persist !== 'boolean') throw invalid(`imageCache.persist must be true or false, got ${describe(persist)}`)
  return { maxEntries, maxAgeSeconds, persist }
}

/**
 * `{scheme}//{host}:{port}` as a normalized origin. A port written in the host
 * wins over the default; an explicit `port` that contradicts it is an error,
 * since one of the two is a mistake.
 */
export function resolveBackendOrigin(host: string, port: number | undefined, pageProtocol: string): string {
  const withScheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(host)
  const protocol = withScheme ? `${withScheme[1]!.toLowerCase()}:` : pageProtocol
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw invalid(
      withScheme
        ? `defaultEndpointConnectHost must use http:// or https://, got "${host}"`
        : `defaultEndpointConnectHost "${host}" has no scheme and the page's own (${pageProtocol}) is not http or https: write it with https://`,
    )
  }
  let authority = withScheme ? host.slice(withScheme[0].length) : host
  if (authority.endsWith('/')) authority = authority.slice(0, -1)
  // A bare IPv6 address ("::1") has colons that are not a port separator.
  if (/^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/.test(authority)) authority = `[${authority}]`
  const ownPort = /^(?:\[[^\]]*\]|[^:\[\]]*):(\d+)$/.exec(authority)?.[1]
  let url: URL
  try {
    url = new URL(`${protocol}//${authority}`)
  } catch {
    throw invalid(`defaultEndpointConnectHost "${host}" is not a host name or IP address with an optional scheme and port`)
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || !url.hostname || /[\/?#@\s]/.test(authority)) {
    throw invalid(`defaultEndpointConnectHost "${host}" must be only a host with an optional scheme and port: no path, query, credentials or spaces`)
  }
  if (ownPort !== undefined) {
    if (!isPort(Number(ownPort))) throw invalid(`defaultEndpointConnectHost "${host}" has port ${ownPort}; a port is an integer from 1 to 65535`)
    if (port !== undefined && port !== Number(ownPort)) {
      throw invalid(`defaultEndpointConnectHost "${host}" has port ${ownPort} but defaultEndpointConnectPort is ${port}: give the port once`)
    }
  }
  url.port = String(ownPort !== undefined ? Number(ownPort) : (port ?? DEFAULT_CONNECT_PORT))
  return url.origin
}

function sameOriginUrl(field: string, value: unknown, page: URL): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${field} must be a non-empty URL string, got ${describe(value)}`)
  let url: URL
  try {
    url = new URL(value, page)
  } catch {
    throw invalid(`${field} "${value}" is not a URL`)
  }
  if (url.origin !== page.origin) throw invalid(`${field} "${value}" must be on the page's origin (${page.origin}): browsers only run same-origin service workers`)
  return url.href
}

const isPort = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535

const invalid = (message: string) => new PixstoreFrontendConfigError(`Pixstore: ${message}`)

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
