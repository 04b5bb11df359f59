import { type PageRequests, type RequestHandlers } from '../protocol/messages'
import { isValidImageId, parseImageRecord } from '../protocol/record'
import { backendImageUrl, isValidRoute, type WorkerConfig } from '../protocol/workerConfig'
import type { ImageCache } from './imageCache'
import type { RecordStore } from './recordStore'

export interface PageRequestHandlerOptions {
  records: RecordStore
  cache: ImageCache
  config: () => WorkerConfig | null
  setConfig: (config: WorkerConfig) => void
  clients: Clients
}

/** How the worker answers each page request (see protocol/messages.ts). Payloads are untrusted and checked. */
export function pageRequestHandlers(options: PageRequestHandlerOptions): RequestHandlers<PageRequests> {
  const { records, cache } = options
  const imageUrl = (id: unknown): string => {
    if (!isValidImageId(id)) throw new TypeError(`Pixstore: invalid image id ${JSON.stringify(id)}`)
    const config = options.config()
    if (!config) throw new Error('Pixstore: the worker has no backend config yet')
    return backendImageUrl(config, id)
  }
  return {
    async connect({ config }) {
      if (typeof config?.backendOrigin !== 'string' || !/^https?:\/\/[^/?#]+$/.test(config.backendOrigin) || !isValidRoute(config.route)) {
        throw new TypeError('Pixstore: connect needs { backendOrigin: "http(s)://host:port", route: "/path" }')
      }
      options.setConfig({ backendOrigin: config.backendOrigin, route: config.route })
      // Takes over the asking page even when `activate` has long passed (e.g. after a hard reload).
      await options.clients.claim()
      return { ready: true }
    },
    setImageRecords({ records: list }) {
      if (!Array.isArray(list)) throw new TypeError('Pixstore: setImageRecords needs a list of records')
      const rejected: string[] = []
      for (const value of list) {
        try {
          records.set(parseImageRecord(value))
        } catch (error) {
          rejected.push(error instanceof Error ? error.message : String(error))
        }
      }
      return { stored: list.length - rejected.length, rejected }
    },
    deleteCachedImage: ({ id }) => cache.delete(imageUrl(id)),
    cachedImageExists: ({ id }) => cache.has(imageUrl(id)),
    clearImageCache: () => cache.clear(),
  }
}
