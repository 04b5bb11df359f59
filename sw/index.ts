/**
 * Pixstore service worker: decrypts Pixstore images for plain `<img>` tags.
 * Built to dist/pixstore-sw.js; the page module registers it with its config
 * in the script URL, so a worker the browser restarts knows its backend at once.
 */
import { clientsClaim } from 'workbox-core'
import { registerRoute } from 'workbox-routing'
import { answerRequest, type PageRequests } from '../protocol/messages'
import { workerConfigFromScriptUrl, type WorkerConfig } from '../protocol/workerConfig'
import { ImageCache } from './imageCache'
import { ImageRequestHandler } from './imageRequestHandler'
import { matchPixstoreRequest } from './matchPixstoreRequest'
import { pageRequestHandlers } from './pageRequestHandlers'
import { RecordStore } from './recordStore'

declare const self: ServiceWorkerGlobalScope

let config: WorkerConfig | null = workerConfigFromScriptUrl(self.location.href)
const records = new RecordStore()
const cache = new ImageCache()

// A new version takes over open pages at once; records live in the pages, so nothing is lost.
// (workbox-core's skipWaiting() is deprecated in favour of calling self.skipWaiting() directly.)
self.addEventListener('install', () => void self.skipWaiting())
clientsClaim()

const handlers = pageRequestHandlers({
  records,
  cache,
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
  new ImageRequestHandler({ records, cache, config: () => config, clients: self.clients }),
  'GET',
)
