/**
 * Pixstore service worker: decrypts Pixstore images for plain `<img>` tags.
 * Built to dist/pixstore-sw.js; the page module registers it with its config
 * in the script URL, so a worker the browser restarts knows its backend at once.
 */
import { clientsClaim } from 'workbox-core'
import { registerRoute } from 'workbox-routing'
import { answerRequest, type PageRequests } from '../protocol/messages'
import { DEFAULT_IMAGE_CACHE, workerConfigFromScriptUrl, type WorkerConfig } from '../protocol/workerConfig'
import { CacheStorageImageCache, IMAGE_CACHE_NAME } from './cacheStorageImageCache'
import type { ImageCache } from './imageCache'
import { ImageRequestHandler } from './imageRequestHandler'
import { matchPixstoreRequest } from './matchPixstoreRequest'
import { MemoryImageCache } from './memoryImageCache'
import { networkRoutes, type RouterRule } from './networkRoutes'
import { pageRequestHandlers } from './pageRequestHandlers'
import { RecentImages } from './recentImages'
import { RecordStore } from './recordStore'

declare const self: ServiceWorkerGlobalScope

let config: WorkerConfig | null = workerConfigFromScriptUrl(self.location.href)
const records = new RecordStore()

// One cache for the current settings; new settings (a `connect` with another imageCache) get a new one.
let cache: { key: string; store: ImageCache } | null = null
const imageCache = (): ImageCache => {
  const settings = config?.imageCache ?? DEFAULT_IMAGE_CACHE
  const key = JSON.stringify(settings)
  if (cache?.key !== key) cache = { key, store: settings.persist ? new RecentImages(new CacheStorageImageCache(settings), settings) : new MemoryImageCache(settings) }
  return cache.store
}
// Made now, not at the first image: it starts reading which images Cache Storage holds.
imageCache()

// A new version takes over open pages at once; records live in the pages, so nothing is lost.
// (workbox-core's skipWaiting() is deprecated in favour of calling self.skipWaiting() directly.)
self.addEventListener('install', (event) => {
  void self.skipWaiting()
  // Routes are fixed per worker, as its config is (both come from the script URL). Browsers without them use the fetch handler for all.
  const router = event as ExtendableEvent & { addRoutes?: (rules: RouterRule[]) => Promise<void> }
  if (config && router.addRoutes) event.waitUntil(router.addRoutes(networkRoutes(config, self.location.origin)).catch((error: unknown) => console.warn('[pixstore] static routes refused:', error)))
})
clientsClaim()

// `persist: false` promises no plaintext on disk: remove what an earlier `persist: true` worker left there.
self.addEventListener('activate', (event) => {
  if (config?.imageCache.persist === false) {
    event.waitUntil(
      (async () => {
        if (await caches.has(IMAGE_CACHE_NAME)) await new CacheStorageImageCache(DEFAULT_IMAGE_CACHE).clear()
      })(),
    )
  }
})

const handlers = pageRequestHandlers({
  records,
  cache: imageCache,
  config: () => config,
  setConfig: (next) => (config = next),
  clients: self.clients,
})
self.addEventListener('message', (event) => {
  const answered = answerRequest<PageRequests>(event, handlers)
  if (answered) event.waitUntil(answered)
})

registerRoute(
  matchPixstoreRequest(() => config, self.location.origin),
  new ImageRequestHandler({ records, cache: imageCache, config: () => config, clients: self.clients, origin: self.location.origin }),
  'GET',
)
