import { answerRequest, type WorkerRequests } from '../protocol/messages'
import type { PageRecords } from './pageRecords'

/**
 * How long the page holds a worker's question for a record it does not have
 * yet. Shorter than the worker's own deadline (RECORD_LOOKUP_TIMEOUT_MS in
 * sw/), so the worker still gets an answer (null) and can ask other tabs.
 */
export const RECORD_WAIT_MS = 2500

/**
 * Lets the worker ask this page for records it lost when the browser stopped
 * it. `startMessages()` is needed: with addEventListener alone, messages from
 * the worker stay queued until the document has finished loading.
 */
export function answerWorkerRequests(container: ServiceWorkerContainer, records: PageRecords): void {
  container.addEventListener('message', (event) => {
    void answerRequest<WorkerRequests>(event, {
      getImageRecord: ({ id }) => records.waitFor(id, RECORD_WAIT_MS),
    })
  })
  container.startMessages()
}
