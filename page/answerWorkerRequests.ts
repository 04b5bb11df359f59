import { answerRequest, type RequestHandlers, type WorkerRequests } from '../protocol/messages'

/**
 * Lets the worker ask this page for records (it lost them when the browser
 * stopped it, or their proofs expired) and report failed images. Only our
 * own worker is answered: any other service worker of the origin can post
 * to this page too, and a record holds a decryption key. As in Mock Service
 * Worker, the check is on the message's `source`. `startMessages()` is
 * needed: with addEventListener alone, messages from the worker stay queued
 * until the document has finished loading.
 */
export function answerWorkerRequests(
  container: ServiceWorkerContainer,
  isOwnWorker: (source: unknown) => Promise<boolean>,
  handlers: RequestHandlers<WorkerRequests>,
): void {
  container.addEventListener('message', (event) => {
    void (async () => {
      if (await isOwnWorker(event.source)) await answerRequest<WorkerRequests>(event, handlers)
    })()
  })
  container.startMessages()
}
