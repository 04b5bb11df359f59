import type { RouteHandlerCallbackOptions, RouteHandlerObject } from 'workbox-core/types.js'
import { encodeImageMeta, type ImageRecord } from '../protocol/record'
import { backendImageUrl, type WorkerConfig } from '../protocol/workerConfig'
import { failureResponse } from './failureResponse'
import { fetchImage, type FetchedImage } from './fetchImage'
import type { ImageCache } from './imageCache'
import { ImageFailure } from './imageFailure'
import { imageResponse } from './imageResponse'
import { InFlight } from './inFlight'
import type { RecordStore } from './recordStore'
import { requestRecordFromClients } from './requestRecordFromClients'

export interface ImageRequestHandlerOptions {
  records: RecordStore
  cache: ImageCache
  /** Read per request: a `connect` message may replace it at any time. */
  config: () => WorkerConfig | null
  clients: Clients
}

/**
 * The workbox route handler for one image: record (from memory, else from the
 * pages), then Cache Storage if it holds this record's version, else the
 * backend. Always answers with a Response, never throws, so a failure reaches
 * the `<img>` as an error status rather than a network error.
 */
export class ImageRequestHandler implements RouteHandlerObject {
  private readonly lookups = new InFlight<ImageRecord | null>()
  private readonly fetches = new InFlight<FetchedImage>()

  constructor(private readonly options: ImageRequestHandlerOptions) {}

  async handle({ event, params }: RouteHandlerCallbackOptions): Promise<Response> {
    const { id } = params as { id: string }
    try {
      const config = this.options.config()
      if (!config) throw new ImageFailure('WorkerError', 'the worker has no backend config')
      const record = await this.findRecord(id, (event as FetchEvent).clientId)
      const url = backendImageUrl(config, id)
      const cached = await this.options.cache.match(url, record.token)
      if (cached) return cached
      const fetched = await this.fetches.run(`${record.token} ${url}`, () => this.fetchAndCache(config, record, url))
      return imageResponse(fetched.image, fetched.format.mimeType, fetched.token)
    } catch (error) {
      if (!(error instanceof ImageFailure)) console.error('[pixstore] image request failed:', error)
      return failureResponse(error instanceof ImageFailure ? error : new ImageFailure('WorkerError', `unexpected worker error for image "${id}"`))
    }
  }

  private async findRecord(id: string, clientId: string): Promise<ImageRecord> {
    const { records, clients } = this.options
    const held = records.get(id)
    if (held) return held
    const found = await this.lookups.run(id, () => requestRecordFromClients(clients, id, clientId))
    if (!found) throw new ImageFailure('NoRecord', `no image record for "${id}": give it to setImageRecords() before showing the image`)
    records.set(found)
    return records.get(id)!
  }

  private async fetchAndCache(config: WorkerConfig, record: ImageRecord, url: string): Promise<FetchedImage> {
    const fetched = await fetchImage(config, record)
    if (fetched.updatedMeta) this.options.records.set({ ...record, token: fetched.token, meta: encodeImageMeta(fetched.updatedMeta) })
    try {
      // Awaited, not left to waitUntil: once the <img> has loaded, cachedImageExists() must see it.
      await this.options.cache.put(url, imageResponse(fetched.image, fetched.format.mimeType, fetched.token))
    } catch (error) {
      console.warn('[pixstore] could not cache image', record.id, error)
    }
    return fetched
  }
}
