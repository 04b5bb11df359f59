import { PixstoreError } from './errors'
/**
 * Every message between the page module and the service worker, declared once.
 * Each request travels with a MessageChannel port and is answered on it, so a
 * sender always knows when (and whether) the other side acted.
 */
import type { ImageRecord } from './record'
import type { WorkerConfig } from './workerConfig'

/** Requests the page sends to its worker. (Type aliases, not interfaces: only those satisfy `Glossary`.) */
export type PageRequests = {
  /**
   * First message on every connect: the worker's protocol version (see
   * version.ts). A worker older than version 2 answers it with an unknown-request error.
   */
  hello: { request: { protocolVersion: number }; reply: { protocolVersion: number } }
  /** Hands over the backend location; the worker answers once it can serve images. Refused on a version mismatch. */
  connect: { request: { config: WorkerConfig; protocolVersion: number }; reply: { ready: true } }
  /** Records the worker keeps in memory; rejected ones come back with a reason. */
  setImageRecords: { request: { records: ImageRecord[] }; reply: { stored: number; rejected: string[] } }
  deleteCachedImage: { request: { id: string }; reply: boolean }
  cachedImageExists: { request: { id: string }; reply: boolean }
  /** Removes every decrypted image and forgets every record. Reply: how many cached images were removed. */
  clearImageCache: { request: Record<string, never>; reply: number }
}

/** Requests the worker sends to a page it serves. */
export type WorkerRequests = {
  /** A restarted worker has empty memory; the page that asked for the image holds the record. */
  getImageRecord: { request: { id: string }; reply: ImageRecord | null }
  /** The backend refused the proof (or nobody holds a record): a fresh record from the app's `refreshRecords`. */
  refreshImageRecord: { request: { id: string }; reply: ImageRecord | null }
  /** An image request finally failed (after any refresh); the page reports it to `onImageError`. */
  imageFailed: { request: ImageFailureReport; reply: null }
  /**
   * Some tab logged out (`clearImageCache`): every page forgets its records and hands none to the worker,
   * nor asks its app's `refreshRecords`, until its app calls `setImageRecords` again. Answered once forgotten.
   */
  forgetRecords: { request: Record<string, never>; reply: null }
}

/**
 * Every state a failed image can end in, declared once: the `x-pixstore-state` header the `<img>`'s
 * answer carries and the `state` onImageError receives. The backend's wire states keep their names
 * (NotFound ... InternalError); the rest are the worker's diagnosis (see the README's onImageError table).
 */
export const IMAGE_FAILURE_STATES = [
  'NotFound',
  'MissingID',
  'MissingProof',
  'InvalidProof',
  'InternalError',
  'NoRecord',
  'InvalidPayload',
  'TooLarge',
  'DecryptionFailed',
  'BackendUnreachable',
  'EndpointNotFound',
  'NotPixstore',
  'CorsRefused',
  'UnexpectedResponse',
  'WorkerError',
] as const
export type ImageFailureState = (typeof IMAGE_FAILURE_STATES)[number]

/** What `onImageError` receives: the `x-pixstore-state` value and the HTTP status the `<img>` got, and what the worker found (URLs without proofs). */
export interface ImageFailureReport {
  id: string
  state: ImageFailureState
  status: number
  detail?: string
}

type Glossary = { [type: string]: { request: unknown; reply: unknown } }

export interface PixstoreRequest<G extends Glossary, T extends keyof G & string = keyof G & string> {
  pixstore: 'request'
  type: T
  payload: G[T]['request']
}

export type PixstoreReply<T> = { ok: true; value: T } | { ok: false; error: string }

/** Anything with `postMessage(message, transfer)`: a ServiceWorker or a Client. */
export interface MessageTarget {
  postMessage(message: unknown, transfer: Transferable[]): void
}

export class MessageTimeoutError extends PixstoreError {
  override name = 'MessageTimeoutError'
  constructor(message: string) {
    super(message, 'ERR_MESSAGE_TIMEOUT')
  }
}

/** Sends one request and resolves with its reply, or rejects on an error reply or after `timeoutMs`. */
export function sendRequest<G extends Glossary, T extends keyof G & string>(
  target: MessageTarget,
  type: T,
  payload: G[T]['request'],
  timeoutMs: number,
): Promise<G[T]['reply']> {
  return new Promise((resolve, reject) => {
    const channel = new MessageChannel()
    const timer = setTimeout(() => {
      channel.port1.close()
      reject(new MessageTimeoutError(`Pixstore: no reply to "${type}" within ${timeoutMs} ms`))
    }, timeoutMs)
    channel.port1.onmessage = ({ data }: MessageEvent<PixstoreReply<G[T]['reply']>>) => {
      clearTimeout(timer)
      channel.port1.close()
      if (data.ok) resolve(data.value)
      else reject(new PixstoreError(data.error, 'ERR_WORKER'))
    }
    const request: PixstoreRequest<G, T> = { pixstore: 'request', type, payload }
    target.postMessage(request, [channel.port2])
  })
}

export type RequestHandlers<G extends Glossary> = {
  [T in keyof G]: (payload: G[T]['request']) => G[T]['reply'] | Promise<G[T]['reply']>
}

/**
 * Answers a request from the other side if `event` carries one; returns false
 * for messages that are not Pixstore requests, so callers can ignore them.
 */
export function answerRequest<G extends Glossary>(
  event: { data: unknown; ports: readonly MessagePort[] },
  handlers: RequestHandlers<G>,
): Promise<void> | false {
  const message = event.data as Partial<PixstoreRequest<G>> | null
  const port = event.ports[0]
  if (!port || typeof message !== 'object' || message === null || message.pixstore !== 'request') return false
  const handler = typeof message.type === 'string' && Object.hasOwn(handlers, message.type) ? handlers[message.type] : undefined
  const reply = (answer: PixstoreReply<unknown>) => {
    port.postMessage(answer)
    port.close()
  }
  if (!handler) {
    reply({ ok: false, error: `Unknown Pixstore request "${String(message.type)}"` })
    return Promise.resolve()
  }
  return (async () => {
    try {
      reply({ ok: true, value: await handler(message.payload) })
    } catch (error) {
      reply({ ok: false, error: error instanceof Error ? error.message : String(error) })
    }
  })()
}
