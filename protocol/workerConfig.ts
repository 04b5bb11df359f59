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
}

export function workerScriptUrl(scriptUrl: string, config: WorkerConfig, base: string): string {
  const url = new URL(scriptUrl, base)
  url.searchParams.set('backend', config.backendOrigin)
  url.searchParams.set('route', config.route)
  return url.href
}

export function workerConfigFromScriptUrl(scriptUrl: string): WorkerConfig | null {
  const params = new URL(scriptUrl).searchParams
  const backendOrigin = params.get('backend')
  const route = params.get('route')
  return backendOrigin && route ? { backendOrigin, route } : null
}

/** A route is a plain absolute path without a trailing slash, e.g. `/pixstore-image`. */
export function isValidRoute(route: unknown): route is string {
  return typeof route === 'string' && /^(\/[A-Za-z0-9._~-]+)+$/.test(route)
}

/** Where the worker fetches an image: `{backendOrigin}{route}/{id}`. */
export function backendImageUrl(config: WorkerConfig, id: string): string {
  return `${config.backendOrigin}${config.route}/${id}`
}

/**
 * The image id a URL asks for, or null when it is no Pixstore image URL. Both
 * `{route}/{id}` on the backend origin and on `ownOrigin` (the page's, which is
 * the worker's) count, so pages can use short same-origin paths. The query is ignored.
 */
export function imageIdFromUrl(url: URL, config: WorkerConfig, ownOrigin: string): string | null {
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
