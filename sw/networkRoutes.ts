import type { BackendLocation } from '../protocol/workerConfig'

/** A Service Worker Static Routing API rule (not yet in TypeScript's lib). */
export interface RouterRule {
  condition: RouterCondition
  source: 'network' | 'fetch-event'
}
type RouterCondition = { urlPattern: string } | { or: RouterCondition[] } | { not: RouterCondition }

/**
 * Every request that cannot be a Pixstore image goes straight to the network
 * without the worker (the Static Routing API): the page's navigations,
 * scripts, styles and API calls never wait for a worker that is starting or
 * busy decrypting. Image URLs (`{route}/*` on the page's origin and on the
 * backend's) still reach the fetch handler, which decides in detail.
 */
export function networkRoutes(config: BackendLocation, ownOrigin: string): RouterRule[] {
  const images = [...new Set([ownOrigin, config.backendOrigin])].map((origin) => ({ urlPattern: `${origin}${config.route}/*` }))
  return [{ condition: { not: { or: images } }, source: 'network' }]
}
