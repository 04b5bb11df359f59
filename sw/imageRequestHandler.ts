import { RECORD_LOOKUP_TIMEOUT_MS, REFRESH_LOOKUP_TIMEOUT_MS } from '../protocol/defaults'
import type { RouteHandlerCallbackOptions, RouteHandlerObject } from 'workbox-core/types.js'
import { sendRequest, type WorkerRequests } from '../protocol/messages'
import { encodeImageMeta, type ImageRecord } from '../protocol/record'
import { backendImageUrl } from '../protocol/workerConfig'
import { failureResponse } from './failureResponse'
import { fetchImage, type FetchedImage } from './fetchImage'
import type { ImageCache } from './imageCache'
import { ImageFailure } from './imageFailure'
import { imageResponse, pageCacheControl, pageImageResponse } from './imageResponse'
import { InFlight } from './inFlight'
import { ProofTransports, type TransportConfig } from './proofTransport'
import type { RecordStore } from './recordStore'
import { withRecordRefresh } from './refreshRecords'
import { requestRecordFromClients } from './requestRecordFromClients'

export interface ImageRequestHandlerOptions {
  records: RecordStore
  /** Read per request, like the config: the cache follows the config's `imageCache`. */
  cache: () => ImageCache
  /** Read per request: a `connect` message may replace it at any time. */
  config: () => TransportConfig | null
  clients: Clients
  /** The worker's (and its pages') origin: a backend elsewhere gets the no-preflight request form. */
  origin: string
}

/** How long telling a page about a failed image may take; nothing waits for it. */
const REPORT_TIMEOUT_MS = 2000

/**
 * The workbox route handler for one image: record (from memory, else from the
 * pages), then the image cache if it holds this record's version, else the
 * backend. A refused proof or a missing record gets one retry with a fresh
 * record from the page. Always answers with a Response, never throws, so a
 * failure reaches the `<img>` as an error status rather than a network error,
 * and the page that asked hears about it (its `onImageError`).
 */
export class ImageRequestHandler implements RouteHandlerObject {
  private readonly lookups = new InFlight<ImageRecord | null>()
  private readonly refreshes = new InFlight<ImageRecord | null>()
  private readonly fetches = new InFlight<{ fetched: FetchedImage; stored: Promise<void> }>()
  /** Which backends want the proof in headers (Pixstore 3.x), learnt while the worker runs. */
  private readonly transports = new ProofTransports()

  constructor(private readonly options: ImageRequestHandlerOptions) {}

  async handle({ event, params }: RouteHandlerCallbackOptions): Promise<Response> {
    const { id } = params as { id: string }
    const fetchEvent = event as FetchEvent
    // A logout (clearImageCache) while this request runs must leave nothing behind: see `current`.
    const generation = this.options.records.generation
    let failure: ImageFailure
    try {
      const config = this.options.config()
      if (!config) throw new ImageFailure('WorkerError', 'the worker has no backend config')
      const url = backendImageUrl(config, id)
      const response = await withRecordRefresh(
        {
          lookup: () => this.findRecord(id, fetchEvent.clientId, generation),
          refresh: () => this.refreshRecord(id, fetchEvent.clientId, generation),
        },
        (record) => this.serve(fetchEvent, config, record, url, generation),
        () => new ImageFailure('NoRecord', `no image record for "${id}": give it to setImageRecords(), or pass refreshRecords to initPixstoreFrontend()`),
      )
      this.current(generation, id)
      return response
    } catch (error) {
      if (!(error instanceof ImageFailure)) console.error('[pixstore] image request failed:', error)
      failure = error instanceof ImageFailure ? error : new ImageFailure('WorkerError', `unexpected worker error for image "${id}"`)
    }
    const response = failureResponse(failure)
    const reported = this.report(fetchEvent.clientId, { id, state: failure.state, status: response.status, detail: failure.message })
    try {
      fetchEvent.waitUntil?.(reported)
    } catch {
      // The event is no longer active; the report still goes out while the worker runs.
    }
    return response
  }

  /**
   * The image goes to the `<img>` as soon as it is decrypted; storing it runs
   * afterwards under `waitUntil` (the cache counts it as held meanwhile, so
   * cachedImageExists() already sees it).
   */
  private async serve(event: FetchEvent, config: TransportConfig, record: ImageRecord, url: string, generation: number): Promise<Response> {
    const cached = await this.options.cache().match(url, record.token)
    if (cached) return pageImageResponse(cached, event.request.url, record.token)
    const { fetched, stored } = await this.fetches.run(`${generation} ${record.token} ${url}`, () => this.fetchAndStore(config, record, url, generation))
    try {
      event.waitUntil?.(stored)
    } catch {
      // The event is no longer active (a request that joined late): the write still runs.
    }
    return imageResponse(fetched.image, fetched.format.mimeType, fetched.token, pageCacheControl(event.request.url, fetched.token))
  }

  /** The worker's record, else one a page holds (a restarted worker has none). */
  private async findRecord(id: string, clientId: string, generation: number): Promise<ImageRecord | null> {
    const held = this.options.records.get(id)
    if (held) return held
    const found = await this.lookups.run(`${generation} ${id}`, () => requestRecordFromClients(this.options.clients, id, clientId, RECORD_LOOKUP_TIMEOUT_MS))
    return this.remember(found, generation)
  }

  /** A fresh record from the page's refreshRecords; concurrent requests for one id share the question. */
  private async refreshRecord(id: string, clientId: string, generation: number): Promise<ImageRecord | null> {
    const fresh = await this.refreshes.run(`${generation} ${id}`, () =>
      requestRecordFromClients(this.options.clients, id, clientId, REFRESH_LOOKUP_TIMEOUT_MS, 'refreshImageRecord'),
    )
    return this.remember(fresh, generation)
  }

  /** A page's answer is kept only if nobody logged out since the request started (that page may not have forgotten yet). */
  private remember(record: ImageRecord | null, generation: number): ImageRecord | null {
    if (!record) return null
    this.current(generation, record.id)
    this.options.records.set(record)
    return this.options.records.get(record.id)!
  }

  private async fetchAndStore(config: TransportConfig, record: ImageRecord, url: string, generation: number): Promise<{ fetched: FetchedImage; stored: Promise<void> }> {
    const fetched = await fetchImage(config, record, this.options.origin, this.transports)
    // Decrypted for a request from before a logout: not a byte of it is kept (nor shown, see handle).
    this.current(generation, record.id)
    if (fetched.updatedMeta) this.options.records.set({ ...record, token: fetched.token, meta: encodeImageMeta(fetched.updatedMeta) })
    const stored = this.options.cache().put(url, { image: fetched.image, mimeType: fetched.format.mimeType, token: fetched.token })
    return { fetched, stored }
  }

  /** Throws NoRecord when a logout happened since `generation`: what the request got belongs to the user who left. */
  private current(generation: number, id: string): void {
    if (this.options.records.generation !== generation) {
      throw new ImageFailure('NoRecord', `logged out (clearImageCache) while image "${id}" was loading: its record is gone`)
    }
  }

  /** Tells the page whose request failed; a page without onImageError just ignores it. */
  private async report(clientId: string, failure: WorkerRequests['imageFailed']['request']): Promise<void> {
    try {
      const client = clientId ? await this.options.clients.get(clientId) : undefined
      if (client) await sendRequest<WorkerRequests, 'imageFailed'>(client, 'imageFailed', failure, REPORT_TIMEOUT_MS)
    } catch {
      // An old page module (unknown request), a closed tab: nobody to tell.
    }
  }
}
