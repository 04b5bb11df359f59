import { RECORD_WAIT_MS, WORKER_TIMEOUT_MS } from '../protocol/defaults'
import { PixstoreError } from '../protocol/errors'
/**
 * `pixstore/frontend`: registers the Pixstore service worker and hands it the
 * image records, so plain `<img src="/pixstore-image/{id}">` tags show
 * decrypted images. Keys and proofs stay in memory (this module's and the
 * worker's); nothing is written to Cache Storage, IndexedDB, Web Storage or URLs
 * except decrypted images (in Cache Storage, tagged with their token only).
 */
import { IMAGE_FAILURE_STATES, sendRequest, type PageRequests, type RequestHandlers, type WorkerRequests } from '../protocol/messages'
import { InvalidImageRecordError, isValidImageId, parseImageRecord, type ImageRecord } from '../protocol/record'
import { imageIdFromUrl } from '../protocol/workerConfig'
import { answerWorkerRequests } from './answerWorkerRequests'
import { resolveFrontendConfig, type PixstoreFrontendConfig, type ResolvedFrontendConfig } from './config'
import { versionedImageUrl, withVersion } from './imageUrl'
import { PageRecords } from './pageRecords'
import { RefreshBatcher } from './refreshBatcher'
import { registerWorker } from './registerWorker'
import { ImageRecovery, type ReloadOutcome } from './recovery'
import { reloadImages } from './reloadImages'
import { LOGOUT_MARK_KEY, PageSession } from './session'

export { PixstoreFrontendConfigError, type PixstoreFrontendConfig } from './config'
export { PixstoreVersionMismatchError } from './registerWorker'
export { InvalidImageRecordError, type ImageRecord } from '../protocol/record'
export { IMAGE_FAILURE_STATES, type ImageFailureReport, type ImageFailureState } from '../protocol/messages'
export { PROTOCOL_VERSION } from '../protocol/version'

// WORKER_TIMEOUT_MS and RECORD_WAIT_MS are in protocol/defaults.ts, beside the worker's side of each pair.
// An image that fails anyway is requested again when its record arrives.

/** The worker's explanation of a failure, bounded: it comes from another context. */
const MAX_DETAIL_LENGTH = 1000

interface Started {
  config: ResolvedFrontendConfig
  /** Null when registering failed: then no worker is ours. */
  registered: Promise<ServiceWorkerRegistration | null>
  /** The registration once known (on a reload it may come after `ready`). */
  registration: ServiceWorkerRegistration | null
  ready: Promise<void>
  refresher: RefreshBatcher | null
}

const records = new PageRecords()
const session = new PageSession(records)
// Another tab's logout mark: forget now rather than at the worker's next question.
globalThis.addEventListener?.('storage', (event: StorageEvent) => {
  if (event.key === LOGOUT_MARK_KEY) session.active()
})
const recovery = new ImageRecovery({ reload: reloadFailedImagesOf })
session.onForget = () => recovery.clear()
globalThis.addEventListener?.('online', () => recovery.online())
let started: Started | null = null
let answering = false

/**
 * Validates `config`, registers the worker and resolves once the worker has
 * the config and controls this page. Images the page showed before that are
 * then requested again. Calling it again with the same config returns the
 * same promise; a different config is refused (reload the page to change it).
 * Rejects with a PixstoreVersionMismatchError when the worker is from another
 * Pixstore release and no matching one could be installed.
 */
export async function initPixstoreFrontend(config: PixstoreFrontendConfig): Promise<void> {
  const resolved = resolveFrontendConfig(config, location.href)
  if (started) {
    if (JSON.stringify(started.config) !== JSON.stringify(resolved)) {
      throw new PixstoreError('Pixstore: initPixstoreFrontend was already called with a different config', 'ERR_USAGE')
    }
    await started.ready
    return
  }
  if (!('serviceWorker' in navigator)) {
    throw new PixstoreError('Pixstore: service workers are not available on this page; they need a secure context (https, or http on localhost)', 'ERR_WORKER')
  }
  const container = navigator.serviceWorker
  let registered!: (registration: ServiceWorkerRegistration | null) => void
  const attempt: Started = {
    config: resolved,
    registered: new Promise((resolve) => (registered = resolve)),
    registration: null,
    ready: (async () => {
      const wasControlled = container.controller !== null
      const onRegistered = (registration: ServiceWorkerRegistration | null) => {
        attempt.registration = registration
        registered(registration)
      }
      await registerWorker(container, resolved, WORKER_TIMEOUT_MS, onRegistered).catch((error: unknown) => {
        registered(null) // a no-op if it had already resolved
        throw error
      })
      if (!wasControlled) reloadImages(document, (url) => imageIdFromUrl(url, resolved.worker, location.origin) !== null)
    })(),
    refresher: resolved.refreshRecords ? new RefreshBatcher(resolved.refreshRecords) : null,
  }
  started = attempt
  if (!answering) {
    answerWorkerRequests(container, isOwnWorker, workerRequestHandlers)
    answering = true
  }
  try {
    await attempt.ready
  } catch (error) {
    if (started === attempt) started = null
    throw error
  }
}

/**
 * Gives the page and the worker the records of images about to be shown.
 * Resolves once the worker has stored them, so an `<img>` added afterwards
 * finds its record. Records are checked one by one: the valid ones are always
 * applied, and if any were malformed the promise then rejects with an
 * AggregateError whose `errors` are InvalidImageRecordErrors naming each
 * refused record and what is wrong with it. A newer record for an id replaces
 * the older one (its fresh proof in particular).
 *
 * `<img>`s already on the page follow: those that could not show (their
 * record had not arrived, or its proof expired) are requested again, and
 * those of an id whose token changed (updateImage) get `?v=<token>` in their
 * URLs, so the browser fetches the new version.
 */
export async function setImageRecords(imageRecords: readonly ImageRecord[]): Promise<void> {
  if (!Array.isArray(imageRecords)) throw new PixstoreError('Pixstore: setImageRecords expects an array of image records', 'ERR_USAGE')
  if (!started) throw new PixstoreError('Pixstore: call initPixstoreFrontend() before setImageRecords()', 'ERR_USAGE')
  const valid: ImageRecord[] = []
  const refused: Error[] = []
  for (const value of imageRecords as unknown[]) {
    try {
      valid.push(parseImageRecord(value))
    } catch (error) {
      refused.push(error as Error)
    }
  }
  session.armed()
  refused.push(...(await deliver(valid, true)))
  if (refused.length > 0) {
    const shown = refused.slice(0, 3).map((error) => error.message).join('; ')
    throw new AggregateError(refused, `Pixstore: refused ${refused.length} of ${imageRecords.length} image records (the ${valid.length} valid ones were applied): ${shown}${refused.length > 3 ? '; …' : ''}`)
  }
}

/**
 * The URL to put in an `<img>`'s `src`: `{route}/{id}?v={token}` on the
 * page's origin. The token makes each version of an image its own URL.
 * Needs initPixstoreFrontend() to have been called (for the route).
 */
export function imageUrl(record: Pick<ImageRecord, 'id' | 'token'>): string {
  if (!started) throw new PixstoreError('Pixstore: call initPixstoreFrontend() before imageUrl(), which needs the configured route', 'ERR_USAGE')
  const { id, token } = (record ?? {}) as Partial<ImageRecord>
  if (!isValidImageId(id)) throw new PixstoreError(`Pixstore: imageUrl needs a record with a valid id, got ${JSON.stringify(id)}`, 'ERR_INVALID_ID')
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0) throw new PixstoreError(`Pixstore: imageUrl needs a record with a token, got ${JSON.stringify(token)}`, 'ERR_INVALID_TOKEN')
  return versionedImageUrl(location.origin, started.config.worker.route, { id, token })
}

/** Removes the decrypted copy of one image from the cache; true if there was one. */
export async function deleteCachedImage(id: string): Promise<boolean> {
  return sendRequest<PageRequests, 'deleteCachedImage'>(await readyWorker(), 'deleteCachedImage', { id: checkedId(id) }, WORKER_TIMEOUT_MS)
}

/** Whether the cache holds a decrypted copy of the image (any version). */
export async function cachedImageExists(id: string): Promise<boolean> {
  return sendRequest<PageRequests, 'cachedImageExists'>(await readyWorker(), 'cachedImageExists', { id: checkedId(id) }, WORKER_TIMEOUT_MS)
}

/**
 * Logging out: removes every decrypted image (Cache Storage, or the worker's
 * memory with `persist: false`) and the cache's bookkeeping, and forgets every
 * record the worker and every open page of the origin hold (see session.ts).
 * Resolves with how many images were removed, once all of that is done.
 */
export async function clearImageCache(): Promise<number> {
  session.logOut()
  return sendRequest<PageRequests, 'clearImageCache'>(await readyWorker(), 'clearImageCache', {}, WORKER_TIMEOUT_MS)
}

/**
 * Records into page memory first (the worker may already be asking for
 * them), then to the worker, then the `<img>`s that can now show. Returns
 * the worker's refusals.
 */
async function deliver(list: ImageRecord[], retryFailed: boolean): Promise<Error[]> {
  if (list.length === 0) return []
  const newTokens = new Map<string, number>()
  const arrived = new Set<string>()
  for (const record of list) {
    const held = records.get(record.id)
    if (held && held.token !== record.token) newTokens.set(record.id, record.token)
    else if (retryFailed) arrived.add(record.id)
    records.set(record)
  }
  const reply = await sendRequest<PageRequests, 'setImageRecords'>(await readyWorker(), 'setImageRecords', { records: list }, WORKER_TIMEOUT_MS)
  if (newTokens.size > 0 || arrived.size > 0) {
    const route = started!.config.worker
    const idOf = (url: URL) => imageIdFromUrl(url, route, location.origin)
    reloadImages(
      document,
      (url) => {
        const id = idOf(url)
        return id !== null && (newTokens.has(id) || arrived.has(id))
      },
      {
        rewrite: (url) => {
          const token = newTokens.get(idOf(url)!)
          return token === undefined ? url : withVersion(url, token)
        },
        onlyFailed: true,
      },
    )
  }
  return reply.rejected.map((reason) => new InvalidImageRecordError(reason))
}

/** How the page answers its worker (see protocol/messages.ts). Payloads are untrusted and checked. */
const workerRequestHandlers: RequestHandlers<WorkerRequests> = {
  getImageRecord: ({ id }) => {
    if (!isValidImageId(id) || !session.active()) return null
    // With refreshRecords the worker asks for a fresh record next; no point waiting here.
    return started?.refresher ? (records.get(id) ?? null) : records.waitFor(id, RECORD_WAIT_MS)
  },
  refreshImageRecord: async ({ id }) => {
    const refresher = started?.refresher
    if (!refresher || !isValidImageId(id) || !session.active()) return null
    const generation = session.generation
    const fresh = await refresher.get(id)
    if (!fresh || generation !== session.generation) return null
    const held = records.get(id)
    if (held && held.token !== fresh.token) void deliver([fresh], false).catch(() => {})
    else records.set(fresh)
    return fresh
  },
  imageFailed: ({ id, state, status, detail }) => {
    if (!isValidImageId(id) || !IMAGE_FAILURE_STATES.includes(state)) return null
    // An image already waiting for the backend failed again: its failure was reported when it first failed.
    if (recovery.failed(id, state)) return null
    const onImageError = started?.config.onImageError
    if (onImageError && Number.isInteger(status)) {
      try {
        onImageError({ id, state, status, ...(typeof detail === 'string' ? { detail: detail.slice(0, MAX_DETAIL_LENGTH) } : {}) })
      } catch (error) {
        console.error('[pixstore] onImageError threw:', error)
      }
    }
    return null
  },
  forgetRecords: () => {
    session.forget()
    return null
  },
}

/** How long a re-requested `<img>` may take to load or fail before the probe counts as failed. */
const RELOAD_SETTLE_MS = 30_000

/**
 * Re-requests the failed `<img>`s of `id` (see recovery.ts) and settles with
 * the first of them to load or fail, or 'gone' when none is left on the page.
 */
function reloadFailedImagesOf(id: string): Promise<ReloadOutcome> {
  const route = started?.config.worker
  if (!route) return Promise.resolve('gone')
  const idOf = (text: string) => {
    try {
      return imageIdFromUrl(new URL(text, location.href), route, location.origin)
    } catch {
      return null
    }
  }
  return new Promise((resolve) => {
    const failed = [...document.images].filter((img) => img.complete && img.naturalWidth === 0)
    const listener = (outcome: ReloadOutcome) => (event: Event) => {
      if (idOf((event.target as HTMLImageElement).currentSrc) === id) settle(outcome)
    }
    const onLoad = listener('load')
    const onError = listener('error')
    const settle = (outcome: ReloadOutcome) => {
      clearTimeout(timer)
      for (const img of failed) {
        img.removeEventListener('load', onLoad)
        img.removeEventListener('error', onError)
      }
      resolve(outcome)
    }
    for (const img of failed) {
      img.addEventListener('load', onLoad)
      img.addEventListener('error', onError)
    }
    const timer = setTimeout(() => settle('error'), RELOAD_SETTLE_MS)
    if (reloadImages(document, (url) => imageIdFromUrl(url, route, location.origin) === id, { onlyFailed: true }) === 0) settle('gone')
  })
}

/** Only the worker of our own registration may ask for records (see answerWorkerRequests). */
async function isOwnWorker(source: unknown): Promise<boolean> {
  if (!started || !source) return false
  const registration = await started.registered
  return registration !== null && [registration.installing, registration.waiting, registration.active].includes(source as ServiceWorker)
}

/** The worker serving this page, once initPixstoreFrontend has succeeded. */
async function readyWorker(): Promise<ServiceWorker> {
  if (!started) throw new PixstoreError('Pixstore: call initPixstoreFrontend() first', 'ERR_USAGE')
  await started.ready
  const worker = started.registration?.active ?? navigator.serviceWorker.controller
  if (!worker) throw new PixstoreError('Pixstore: the service worker is gone (was it unregistered?)', 'ERR_WORKER')
  return worker
}

function checkedId(id: unknown): string {
  if (!isValidImageId(id)) throw new PixstoreError(`Pixstore: invalid image id ${JSON.stringify(id)}`, 'ERR_INVALID_ID')
  return id
}
