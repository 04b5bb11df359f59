/**
 * `pixstore/frontend`: registers the Pixstore service worker and hands it the
 * image records, so plain `<img src="/pixstore-image/{id}">` tags show
 * decrypted images. Keys and proofs stay in memory (this module's and the
 * worker's); nothing is written to Cache Storage, IndexedDB, Web Storage or URLs
 * except decrypted images (in Cache Storage, tagged with their token only).
 */
import { sendRequest, type PageRequests } from '../protocol/messages'
import { InvalidImageRecordError, isValidImageId, parseImageRecord, type ImageRecord } from '../protocol/record'
import { imageIdFromUrl } from '../protocol/workerConfig'
import { answerWorkerRequests } from './answerWorkerRequests'
import { resolveFrontendConfig, type PixstoreFrontendConfig, type ResolvedFrontendConfig } from './config'
import { PageRecords } from './pageRecords'
import { registerWorker } from './registerWorker'
import { retryImages } from './retryImages'

export { PixstoreFrontendConfigError, type PixstoreFrontendConfig } from './config'
export { InvalidImageRecordError, type ImageRecord } from '../protocol/record'

/** How long registering, and each request to the worker, may take. */
const WORKER_TIMEOUT_MS = 10_000

const records = new PageRecords()
let started: { config: ResolvedFrontendConfig; ready: Promise<ServiceWorkerRegistration> } | null = null
let answering = false

/**
 * Validates `config`, registers the worker and resolves once the worker has
 * the config and controls this page. Images the page showed before that are
 * then requested again. Calling it again with the same config returns the
 * same promise; a different config is refused (reload the page to change it).
 */
export async function initPixstoreFrontend(config: PixstoreFrontendConfig): Promise<void> {
  const resolved = resolveFrontendConfig(config, location.href)
  if (started) {
    if (JSON.stringify(started.config) !== JSON.stringify(resolved)) {
      throw new Error('Pixstore: initPixstoreFrontend was already called with a different config')
    }
    await started.ready
    return
  }
  if (!('serviceWorker' in navigator)) {
    throw new Error('Pixstore: service workers are not available on this page; they need a secure context (https, or http on localhost)')
  }
  const container = navigator.serviceWorker
  if (!answering) {
    answerWorkerRequests(container, records)
    answering = true
  }
  const ready = (async () => {
    const wasControlled = container.controller !== null
    const registration = await registerWorker(container, resolved, WORKER_TIMEOUT_MS)
    if (!wasControlled) retryImages(document, (url) => imageIdFromUrl(url, resolved.worker, location.origin) !== null)
    return registration
  })()
  const attempt = { config: resolved, ready }
  started = attempt
  try {
    await ready
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
 */
export async function setImageRecords(imageRecords: readonly ImageRecord[]): Promise<void> {
  if (!Array.isArray(imageRecords)) throw new TypeError('Pixstore: setImageRecords expects an array of image records')
  if (!started) throw new Error('Pixstore: call initPixstoreFrontend() before setImageRecords()')
  const valid: ImageRecord[] = []
  const refused: Error[] = []
  for (const value of imageRecords as unknown[]) {
    try {
      valid.push(parseImageRecord(value))
    } catch (error) {
      refused.push(error as Error)
    }
  }
  // Into page memory first: the worker may already be asking for them.
  for (const record of valid) records.set(record)
  if (valid.length > 0) {
    const reply = await sendRequest<PageRequests, 'setImageRecords'>(await readyWorker(), 'setImageRecords', { records: valid }, WORKER_TIMEOUT_MS)
    refused.push(...reply.rejected.map((reason) => new InvalidImageRecordError(reason)))
  }
  if (refused.length > 0) {
    const shown = refused.slice(0, 3).map((error) => error.message).join('; ')
    throw new AggregateError(refused, `Pixstore: refused ${refused.length} of ${imageRecords.length} image records (the ${valid.length} valid ones were applied): ${shown}${refused.length > 3 ? '; …' : ''}`)
  }
}

/** Removes the decrypted copy of one image from Cache Storage; true if there was one. */
export async function deleteCachedImage(id: string): Promise<boolean> {
  return sendRequest<PageRequests, 'deleteCachedImage'>(await readyWorker(), 'deleteCachedImage', { id: checkedId(id) }, WORKER_TIMEOUT_MS)
}

/** Whether Cache Storage holds a decrypted copy of the image (any version). */
export async function cachedImageExists(id: string): Promise<boolean> {
  return sendRequest<PageRequests, 'cachedImageExists'>(await readyWorker(), 'cachedImageExists', { id: checkedId(id) }, WORKER_TIMEOUT_MS)
}

/** Removes every decrypted image from Cache Storage; resolves with how many there were. */
export async function clearImageCache(): Promise<number> {
  return sendRequest<PageRequests, 'clearImageCache'>(await readyWorker(), 'clearImageCache', {}, WORKER_TIMEOUT_MS)
}

/** The worker serving this page, once initPixstoreFrontend has succeeded. */
async function readyWorker(): Promise<ServiceWorker> {
  if (!started) throw new Error('Pixstore: call initPixstoreFrontend() first')
  const registration = await started.ready
  const worker = navigator.serviceWorker.controller ?? registration.active
  if (!worker) throw new Error('Pixstore: the service worker is gone (was it unregistered?)')
  return worker
}

function checkedId(id: unknown): string {
  if (!isValidImageId(id)) throw new TypeError(`Pixstore: invalid image id ${JSON.stringify(id)}`)
  return id
}
