import type { RouteMatchCallback } from 'workbox-core/types.js'
import { imageIdFromUrl, type BackendLocation } from '../protocol/workerConfig'

/**
 * Workbox match callback for `{route}/{id}` on the worker's own origin or the
 * backend's. Returns `{ id }` as the handler's params; anything else (also
 * before the worker knows its config) is left to the network untouched.
 */
export function matchPixstoreRequest(config: () => BackendLocation | null, ownOrigin: string): RouteMatchCallback {
  return ({ url }) => {
    const current = config()
    const id = current && imageIdFromUrl(url, current, ownOrigin)
    return id ? { id } : false
  }
}
