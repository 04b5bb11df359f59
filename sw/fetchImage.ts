import { ChunkedPayloadError } from '../protocol/chunked'
import { ImageFrameError, type ImageFormat } from '../protocol/formats'
import { decodeImageMeta, type ImageRecord } from '../protocol/record'
import {
  CHUNKED_HEADER,
  CHUNKED_PARAM,
  CHUNKED_VERSION,
  decodeWirePayload,
  PixstoreState,
  PROOF_HEADER,
  PROOF_PARAM,
  stateName,
  TOKEN_HEADER,
  TOKEN_PARAM,
  type RawImageMeta,
} from '../protocol/wire'
import { ANSWER_IDLE_TIMEOUT_MS, DEFAULT_MAX_IMAGE_BYTES } from '../protocol/defaults'
import { backendImageUrl, maxAnswerBytes } from '../protocol/workerConfig'
import { openImageAnswer } from './chunkedAnswer'
import { decryptImage, ImageDecryptionError } from './decryptImage'
import { ImageFailure } from './imageFailure'
import { ProofTransports, type TransportConfig } from './proofTransport'

interface FetchedVersion {
  format: ImageFormat
  /** The token of the version decrypted: the record's, or the newer one of an Updated answer. */
  token: number
  /** Set when the backend answered Updated or ChunkedUpdated: the new version's key material. */
  updatedMeta: RawImageMeta | null
}

/**
 * A whole-image answer (Pixstore 3.x, or an image too small for records to
 * matter) comes decrypted as `image`; a chunked one as `stream`, each record's
 * plaintext once it authenticated. The stream errors with an ImageFailure
 * (DecryptionFailed for a record that does not authenticate, a payload cut
 * short or reordered; BackendUnreachable when the network breaks off) and
 * ends only when the last record authenticated: an image is whole only then.
 */
export type FetchedImage = FetchedVersion &
  ({ image: Uint8Array<ArrayBuffer>; stream?: undefined } | { image?: undefined; stream: ReadableStream<Uint8Array>; length: number | null })

/**
 * One round trip to the backend for `record`, decrypted. Every failure is an
 * ImageFailure naming its cause. `credentials: 'omit'` because the proof is
 * the only authorization; `no-store` because the worker caches plaintext itself.
 * A backend on another origin gets proof and token as query parameters: a
 * request without custom headers needs no CORS preflight, one round trip less
 * per image. The same origin gets them as headers, out of every URL. A
 * backend that answers MissingProof to the query form (Pixstore 3.x) is asked
 * again with headers, and gets them from then on (see proofTransport.ts).
 * Chunked answers are asked for with CHUNKED_HEADER on the same origin (no
 * CORS there; 3.x ignores it) and with CHUNKED_PARAM in the query form. A
 * cross-origin request in the headers form (a 3.x backend, or proofTransport
 * 'headers') asks nothing: 3.x would read a query as part of the id, and its
 * CORS allow-list lacks the header. It gets the whole form, as today.
 * Aborting `signal` stops the fetch wherever it is (waiting for the answer,
 * or streaming it): it then fails, the stream included, with the signal's
 * reason (a logout's NoRecord). An answer that moves no byte for
 * `idleTimeoutMs` is aborted the same way, as BackendUnreachable.
 */
export async function fetchImage(
  config: TransportConfig,
  record: ImageRecord,
  ownOrigin: string,
  transports = new ProofTransports(),
  signal?: AbortSignal,
  idleTimeoutMs = ANSWER_IDLE_TIMEOUT_MS,
): Promise<FetchedImage> {
  const url = backendImageUrl(config, record.id)
  const form = transports.choose(config, ownOrigin)
  const sameOrigin = config.backendOrigin === ownOrigin
  const recordMeta = decodeImageMeta(record.meta)
  const maxImageBytes = config.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES
  const limit = { bytes: maxAnswerBytes(maxImageBytes), images: maxImageBytes }
  const idle = new IdleWatch(idleTimeoutMs, url)
  const aborted = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal
  try {
    let answer = await openImageAnswer(...(await fetchPayload(url, record, form, sameOrigin, recordMeta, limit, idle, aborted)))
    if (form === 'query' && answer.kind === 'failure' && answer.state === PixstoreState.MissingProof && transports.queryRefused(config)) {
      answer = await openImageAnswer(...(await fetchPayload(url, record, 'headers', sameOrigin, recordMeta, limit, idle, aborted)))
    }
    // A whole answer or a state was read to its end; a chunked one is watched until its stream ends.
    if (answer.kind !== 'chunked') idle.stop()
    switch (answer.kind) {
      case 'chunked':
        return {
          format: answer.format,
          token: answer.updated?.token ?? record.token,
          updatedMeta: answer.updated?.meta ?? null,
          stream: failingAs(answer.image, record.id, idle, aborted),
          length: answer.imageLength,
        }
      case 'failure': {
        const state = stateName(answer.state) as Exclude<ReturnType<typeof stateName>, 'Success' | 'Updated' | undefined>
        throw new ImageFailure(state, `backend answered ${state} for image "${record.id}"`)
      }
      case 'whole': {
        const payload = decodeWirePayload(answer.payload)
        switch (payload.state) {
          case PixstoreState.Success:
            return { ...(await decryptImage(payload.ciphertext, recordMeta)), token: record.token, updatedMeta: null }
          case PixstoreState.Updated:
            return { ...(await decryptImage(payload.ciphertext, payload.meta)), token: payload.token, updatedMeta: payload.meta }
          default:
            throw new ImageFailure('InvalidPayload', `backend answered state ${payload.state} with bytes after it for image "${record.id}"`)
        }
      }
    }
  } catch (error) {
    idle.stop()
    throw asImageFailure(error, record.id, url, aborted)
  }
}

/**
 * Aborts its `signal` when `ms` pass without a `touch()`: an answer that
 * stalls (a head that never comes, a body that stops) ends as
 * BackendUnreachable instead of holding its request, the requests that
 * joined it and the worker's memory for good.
 */
class IdleWatch {
  private readonly controller = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  readonly signal = this.controller.signal

  constructor(
    readonly ms: number,
    private readonly url: string,
  ) {
    this.touch()
  }

  /** Bytes moved: the next `within` ms (the idle time unless given) start now. */
  touch(within = this.ms): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.controller.abort(new ImageFailure('BackendUnreachable', `the answer from ${this.url} moved no byte for ${within / 1000} s`)), within)
  }

  stop(): void {
    clearTimeout(this.timer)
  }
}

/**
 * What went wrong reading or decrypting an answer, named for the page. An
 * aborted fetch fails with its abort's reason: Firefox and WebKit error an
 * aborted body with an AbortError instead (seen with a logout mid-answer).
 */
function asImageFailure(error: unknown, id: string, url: string, signal?: AbortSignal): ImageFailure {
  if (signal?.aborted) error = signal.reason
  if (error instanceof ImageFailure) return error
  if (error instanceof ImageDecryptionError) return new ImageFailure('DecryptionFailed', `cannot decrypt image "${id}": ${error.message}`)
  if (error instanceof ChunkedPayloadError) return new ImageFailure('DecryptionFailed', `cannot decrypt image "${id}": ${error.message}`)
  if (error instanceof ImageFrameError) return new ImageFailure('InvalidPayload', `image "${id}" decrypted to no known format: ${error.message}`)
  if (error instanceof TypeError) return new ImageFailure('BackendUnreachable', `the answer from ${url} broke off (${describe(error)})`)
  return new ImageFailure('InvalidPayload', `backend sent no valid Pixstore payload for image "${id}": ${describe(error)}`)
}

/** `image` with its errors named as ImageFailures; pulls one chunk at a time (no buffering of its own). Its end, error or cancel stops `idle`. */
function failingAs(image: ReadableStream<Uint8Array>, id: string, idle: IdleWatch, signal: AbortSignal): ReadableStream<Uint8Array> {
  const reader = image.getReader()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read()
          if (done) {
            idle.stop()
            controller.close()
          } else controller.enqueue(value)
        } catch (error) {
          idle.stop()
          controller.error(asImageFailure(error, id, 'the backend', signal))
        }
      },
      cancel: (reason) => (idle.stop(), reader.cancel(reason)),
    },
    { highWaterMark: 0 },
  )
}

/**
 * The answer body (and its Content-Length) the backend gave with proof and
 * token in the query or the headers. An answer that is no Pixstore payload is
 * named for what it is: a 404 (wrong route, or no Pixstore there), a 200 of
 * another type (a site, not an endpoint), another status; and no readable
 * answer at all is BackendUnreachable only when nothing answered (see whyUnreadable).
 */
async function fetchPayload(
  url: string,
  record: ImageRecord,
  form: 'query' | 'headers',
  sameOrigin: boolean,
  recordMeta: RawImageMeta,
  limit: AnswerLimit,
  idle: IdleWatch,
  signal: AbortSignal,
): Promise<[ReadableStream<Uint8Array> | Uint8Array, RawImageMeta, number | null]> {
  let response: Response
  try {
    const params = new URLSearchParams()
    if (form === 'query') {
      params.set(PROOF_PARAM, record.statelessProof)
      params.set(TOKEN_PARAM, String(record.token))
    }
    // Pixstore 3.x takes everything after the route as the id, query included: only the query form (which 3.x refuses anyway) carries the parameter.
    if (form === 'query') params.set(CHUNKED_PARAM, CHUNKED_VERSION)
    const headers: Record<string, string> = form === 'query' ? {} : { [PROOF_HEADER]: record.statelessProof, [TOKEN_HEADER]: String(record.token) }
    if (sameOrigin) headers[CHUNKED_HEADER] = CHUNKED_VERSION
    const query = params.toString()
    response = await fetch(query ? `${url}?${query}` : url, { mode: 'cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer', headers, signal })
  } catch (error) {
    // Aborted: nothing to diagnose (fetchImage names the reason).
    if (signal.aborted) throw error
    throw await whyUnreadable(url, error)
  }
  idle.touch()
  if (response.status === 200 && isWireType(response.headers.get('Content-Type'))) {
    const header = Number(response.headers.get('Content-Length') ?? NaN)
    const length = Number.isSafeInteger(header) ? header : null
    if (length !== null && length > limit.bytes) {
      await response.body?.cancel().catch(() => {})
      throw tooLarge(url, limit)
    }
    // The browser reads no more than a Content-Length says: a small answer is bounded by its header. Read
    // at once, it shows no progress: it gets WHOLE_READ_IDLE_ROUNDS idle times (256 KiB at 2 KiB/s or more).
    if (length !== null && length <= WHOLE_READ_MAX_BYTES) {
      idle.touch(idle.ms * WHOLE_READ_IDLE_ROUNDS)
      return [new Uint8Array(await response.arrayBuffer()), recordMeta, length]
    }
    return [response.body ? watched(response.body, limit, idle, url) : new Uint8Array(0), recordMeta, length]
  }
  await response.body?.cancel().catch(() => {})
  if (response.status === 404) {
    throw new ImageFailure('EndpointNotFound', `no Pixstore endpoint at ${url}: the backend answered HTTP 404 (the page's defaultEndpointRoute must match the backend's, and the host and port must be the Pixstore endpoint)`)
  }
  if (response.status === 200) {
    throw new ImageFailure('NotPixstore', `${url} answered ${response.headers.get('Content-Type') ?? 'no Content-Type'} instead of a Pixstore payload (application/octet-stream): is defaultEndpointConnectHost a Pixstore endpoint?`)
  }
  throw new ImageFailure('UnexpectedResponse', `backend answered HTTP ${response.status} for ${url}`)
}

/** How long an answer may be: `bytes` for an image of `images` bytes (maxAnswerBytes). */
interface AnswerLimit {
  bytes: number
  images: number
}

const tooLarge = (url: string, limit: AnswerLimit) =>
  new ImageFailure('TooLarge', `the answer from ${url} is longer than an image of maxImageBytes (${limit.images} bytes) can be: raise maxImageBytes in initPixstoreFrontend's config if the backend stores larger images`)

/**
 * `body`, erroring with TooLarge (and cancelling it) once more bytes came
 * than the limit allows: a backend that never stops, or whose answer has no
 * length, cannot fill the worker's memory, whether the answer is read whole
 * or as records. Each chunk touches `idle`. Chunks pass as they come.
 */
function watched(body: ReadableStream<Uint8Array>, limit: AnswerLimit, idle: IdleWatch, url: string): ReadableStream<Uint8Array> {
  let passed = 0
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        passed += chunk.length
        if (passed > limit.bytes) return controller.error(tooLarge(url, limit))
        idle.touch()
        controller.enqueue(chunk)
      },
    }),
  )
}

/**
 * An answer of at most this many bytes (by its Content-Length) is read whole
 * with arrayBuffer() rather than through a stream reader. Our backend answers
 * images of up to 256 KiB whole even to a worker that asks for chunks, and
 * most gallery images are that small. On a first visit of 24 x 100 KB
 * images, reading each through a stream reader made the images show about
 * 5% later than this (320 balanced rounds, a trace showing the worker's CPU
 * unchanged): 1.07x the build before chunked answers, against 1.01x
 * (90% interval 1.00-1.03x) with arrayBuffer(). A chunked answer this small
 * still works (read from the bytes); the cost is holding an answer of up to
 * 256 KiB whole while it arrives, as the build before did for every answer.
 */
const WHOLE_READ_MAX_BYTES = 256 * 1024
/** Idle times a whole read (which shows no progress) may take: 256 KiB at about 2 KiB/s. */
const WHOLE_READ_IDLE_ROUNDS = 4

/**
 * fetch() failed without an answer the worker may read. Either nothing
 * answered (down, wrong port, DNS), or a server answered without CORS
 * headers for this origin, which the browser hides the same way. A no-cors
 * request, sent without proof, tells them apart: it gets an opaque answer
 * from any server that answers at all.
 */
async function whyUnreadable(url: string, error: unknown): Promise<ImageFailure> {
  try {
    await fetch(url, { mode: 'no-cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' })
  } catch {
    return new ImageFailure('BackendUnreachable', `backend unreachable at ${url} (${describe(error)})`)
  }
  return new ImageFailure(
    'CorsRefused',
    `${url} answered, but without CORS headers allowing this origin: set the backend's accessControlAllowOrigin to include it, and check that the route is Pixstore's (other routes of an app may carry no CORS headers)`,
  )
}

/** Pixstore (3.x too) answers application/octet-stream; a server that names no type gets the benefit of the doubt. */
const isWireType = (type: string | null) => type === null || type.split(';')[0]!.trim().toLowerCase() === 'application/octet-stream'

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))
