import { PixstoreError } from '../protocol/errors'
import { type PageRequests, type RequestHandlers } from '../protocol/messages'
import { isValidImageId, parseImageRecord } from '../protocol/record'
import { PROTOCOL_VERSION } from '../protocol/version'
import { backendImageUrl, parseWorkerConfig, type WorkerConfig } from '../protocol/workerConfig'
import type { ImageCache } from './imageCache'
import { logOut } from './logout'
import type { RecordStore } from './recordStore'

export interface PageRequestHandlerOptions {
  records: RecordStore
  cache: () => ImageCache
  config: () => WorkerConfig | null
  setConfig: (config: WorkerConfig) => void
  clients: Clients
}

/** How the worker answers each page request (see protocol/messages.ts). Payloads are untrusted and checked. */
export function pageRequestHandlers(options: PageRequestHandlerOptions): RequestHandlers<PageRequests> {
  const { records } = options
  const imageUrl = (id: unknown): string => {
    if (!isValidImageId(id)) throw new PixstoreError(`Pixstore: invalid image id ${JSON.stringify(id)}`, 'ERR_INVALID_ID')
    const config = options.config()
    if (!config) throw new PixstoreError('Pixstore: the worker has no backend config yet', 'ERR_WORKER')
    return backendImageUrl(config, id)
  }
  return {
    hello: () => ({ protocolVersion: PROTOCOL_VERSION }),
    async connect({ config, protocolVersion }) {
      // A page module from another release (older ones send no version) must not talk to this worker.
      if (protocolVersion !== PROTOCOL_VERSION) {
        throw new PixstoreError(
          `Pixstore: the page module speaks protocol version ${protocolVersion ?? 1} but the service worker speaks ${PROTOCOL_VERSION}: serve the page module and pixstore-sw.js from the same Pixstore release, then reload`,
          'ERR_VERSION_MISMATCH',
        )
      }
      const checked = parseWorkerConfig(config)
      if (!checked) {
        throw new PixstoreError('Pixstore: connect needs { backendOrigin: "http(s)://host:port", route: "/path", imageCache: { maxEntries, maxAgeSeconds, persist } }', 'ERR_USAGE')
      }
      options.setConfig(checked)
      // Takes over the asking page even when `activate` has long passed (e.g. after a hard reload). A worker
      // still installing cannot claim yet (InvalidStateError); its `activate` claims every page (clientsClaim).
      await options.clients.claim().catch((error: unknown) => {
        if (!(error instanceof DOMException && error.name === 'InvalidStateError')) throw error
      })
      return { ready: true }
    },
    setImageRecords({ records: list }) {
      if (!Array.isArray(list)) throw new PixstoreError('Pixstore: setImageRecords needs a list of records', 'ERR_USAGE')
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
    deleteCachedImage: ({ id }) => options.cache().delete(imageUrl(id)),
    cachedImageExists: ({ id }) => options.cache().has(imageUrl(id)),
    clearImageCache: () => logOut(records, options.cache(), options.clients),
  }
}
