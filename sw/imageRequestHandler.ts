import { RECORD_LOOKUP_TIMEOUT_MS, REFRESH_LOOKUP_TIMEOUT_MS } from '../protocol/defaults'
import type { RouteHandlerCallbackOptions, RouteHandlerObject } from 'workbox-core/types.js'
import { sendRequest, type WorkerRequests } from '../protocol/messages'
import { encodeImageMeta, type ImageRecord } from '../protocol/record'
import { backendImageUrl } from '../protocol/workerConfig'
import { failureResponse } from './failureResponse'
import { fetchImage, type FetchedImage } from './fetchImage'
import type { ImageCache } from './imageCache'
import { ImageFailure } from './imageFailure'
import { imageResponse, pageCacheControl, pageImageResponse, streamedImageResponse } from './imageResponse'
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
  private readonly fetches = new InFlight<FetchedAnswer>()
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
   * The image goes to the `<img>` as soon as it is decrypted, or, for a
   * chunked answer, as its records authenticate (a streamed body the browser
   * renders progressively); storing it runs afterwards under `waitUntil` (the
   * cache counts it as held meanwhile, so cachedImageExists() already sees
   * it). Requests that join a running fetch get the whole image once it is
   * complete (a chunked fetch stays joinable until its image is stored);
   * the first one gets the stream.
   */
  private async serve(event: FetchEvent, config: TransportConfig, record: ImageRecord, url: string, generation: number): Promise<Response> {
    const cached = await this.options.cache().match(url, record.token)
    if (cached) return pageImageResponse(cached, event.request.url, record.token)
    let answer = await this.fetches.run(
      `${generation} ${record.token} ${url}`,
      () => this.fetchAndStore(config, record, url, generation),
      // A chunked answer streams on after this resolves: joinable until it is stored (a whole one is in memory by then).
      (running) => (running.whole ? null : running.stored),
    )
    let stream = answer.take()
    if (!stream && !answer.whole) {
      // Joined a chunked answer another request streams: the image once it is stored, else a fetch of its own.
      await answer.complete
      await answer.stored
      const stored = await this.options.cache().match(url, answer.fetched.token)
      if (stored) return pageImageResponse(stored, event.request.url, answer.fetched.token)
      answer = await this.fetchAndStore(config, record, url, generation)
      stream = answer.take()
    }
    try {
      event.waitUntil?.(answer.stored)
    } catch {
      // The event is no longer active (a request that joined late): the write still runs.
    }
    const { format, token } = answer.fetched
    const cacheControl = pageCacheControl(event.request.url, token)
    if (stream) {
      // The `<img>` sees a broken stream as an error; the page hears why (onImageError) once the stream failed.
      const reported = answer.complete.then(
        () => {},
        (error) => this.report(event.clientId, failureReport(record.id, error)),
      )
      try {
        event.waitUntil?.(reported)
      } catch {
        // As above.
      }
      return streamedImageResponse(stream, answer.fetched.stream ? answer.fetched.length : null, format.mimeType, token, cacheControl)
    }
    return imageResponse(await answer.whole!, format.mimeType, token, cacheControl)
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

  /**
   * Fetches and decrypts; the image is stored (and an Updated answer's token
   * and meta applied) only once it is complete and authenticated, and only if
   * nobody logged out meanwhile. A chunked stream is teed: one branch for the
   * `<img>`, one written to the cache as it arrives (Cache.put commits only a
   * stream that ended, so a failure anywhere keeps nothing). A logout aborts
   * the fetch wherever it is: the stream fails with NoRecord there and then
   * (the `<img>` stops showing it, the network read stops), not when its next
   * bytes arrive; and no chunk read before it passes after it.
   */
  private async fetchAndStore(config: TransportConfig, record: ImageRecord, url: string, generation: number): Promise<FetchedAnswer> {
    const abort = new AbortController()
    const stopListening = this.options.records.onLogout(generation, () => abort.abort(loggedOut(record.id)))
    let fetched: FetchedImage
    try {
      fetched = await fetchImage(config, record, this.options.origin, this.transports, abort.signal)
      // Decrypted for a request from before a logout: not a byte of it is kept (nor shown, see handle).
      this.current(generation, record.id)
    } catch (error) {
      stopListening()
      throw error
    }
    const check = () => this.current(generation, record.id)
    const applyUpdate = () => {
      check()
      if (fetched.updatedMeta) this.options.records.set({ ...record, token: fetched.token, meta: encodeImageMeta(fetched.updatedMeta) })
    }
    if (!fetched.stream) {
      stopListening()
      applyUpdate()
      const image = fetched.image
      const stored = this.options.cache().put(url, { image, mimeType: fetched.format.mimeType, token: fetched.token })
      return { fetched, whole: Promise.resolve(image), complete: Promise.resolve(), stored, take: () => null }
    }
    const [page, toCache] = fetched.stream.tee()
    let toPage: ReadableStream<Uint8Array> | null = whileCurrent(page, check)
    const { stream: written, ended } = watchEnd(whileCurrent(toCache, check))
    // The cache branch ends when the answer did (read to its end, or failed): nothing left to abort.
    ended.then(stopListening, stopListening)
    const complete = ended.then(applyUpdate)
    // The report and joiners read `complete`; a failure is theirs to name, never unhandled here.
    complete.catch(() => {})
    const stored = this.options
      .cache()
      .putStream(url, written, fetched.format.mimeType, fetched.token)
      .then(async (kept) => {
        // A logout between the last record and the commit: the entry goes again.
        if (kept && this.options.records.generation !== generation) await this.options.cache().delete(url)
      })
      .catch(() => {})
      // A cache that did not read the image (Cache Storage unavailable) must stall nothing: the rest is read here
      // (watchEnd), so `complete` still settles for the joiners and no branch of the tee piles up the image.
      .then(() => written.cancel().catch(() => {}))
    return {
      fetched,
      whole: null,
      complete,
      stored,
      take: () => {
        const stream = toPage
        toPage = null
        return stream
      },
    }
  }

  /** Throws NoRecord when a logout happened since `generation`: what the request got belongs to the user who left. */
  private current(generation: number, id: string): void {
    if (this.options.records.generation !== generation) throw loggedOut(id)
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

/** One fetch as the requests for it share it. */
interface FetchedAnswer {
  fetched: FetchedImage
  /** A whole answer's image; null for a chunked one (it streams, never held whole). */
  whole: Promise<Uint8Array<ArrayBuffer>> | null
  /** Resolves once the image is complete and authenticated (and kept: no logout since); rejects with the ImageFailure otherwise. */
  complete: Promise<void>
  /** The cache write; never rejects. */
  stored: Promise<void>
  /** The streamed body for the first request of a chunked answer; null for the others and for whole answers. */
  take(): ReadableStream<Uint8Array> | null
}

/** What a request a logout overtook fails with. */
function loggedOut(id: string): ImageFailure {
  return new ImageFailure('NoRecord', `logged out (clearImageCache) while image "${id}" was loading: its record is gone`)
}

/** The page's report for a stream that failed after its response went out. */
function failureReport(id: string, error: unknown): WorkerRequests['imageFailed']['request'] {
  const failure = error instanceof ImageFailure ? error : new ImageFailure('WorkerError', `unexpected worker error for image "${id}"`)
  return { id, state: failure.state, status: failureResponse(failure).status, detail: failure.message }
}

/** `stream`, checked before every chunk it passes on (`check` throws to cut it). */
function whileCurrent(stream: ReadableStream<Uint8Array>, check: () => void): ReadableStream<Uint8Array> {
  const reader = stream.getReader()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read()
        check()
        if (done) controller.close()
        else controller.enqueue(value)
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}

/** `stream` as it is, and a promise of how it ended: resolves when it closes, rejects with its error (also when its reader cancelled it). */
function watchEnd(stream: ReadableStream<Uint8Array>): { stream: ReadableStream<Uint8Array>; ended: Promise<void> } {
  let settle!: { resolve: () => void; reject: (error: unknown) => void }
  const ended = new Promise<void>((resolve, reject) => (settle = { resolve, reject }))
  const reader = stream.getReader()
  return {
    ended,
    stream: new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          try {
            const { done, value } = await reader.read()
            if (done) {
              settle.resolve()
              controller.close()
            } else controller.enqueue(value)
          } catch (error) {
            settle.reject(error)
            controller.error(error)
          }
        },
        // The writer gave up (a full disk): the source is still read to its end, which alone says whether the image was whole.
        cancel: async () => {
          try {
            for (let result = await reader.read(); !result.done; result = await reader.read());
            settle.resolve()
          } catch (error) {
            settle.reject(error)
          }
        },
      },
      { highWaterMark: 0 },
    ),
  }
}
