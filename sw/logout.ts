import { sendRequest, type WorkerRequests } from '../protocol/messages'
import type { ImageCache } from './imageCache'
import type { RecordStore } from './recordStore'

/** How long a page may take to say it forgot; a page without the page module never answers. */
export const FORGET_TIMEOUT_MS = 2000

/**
 * Logging out across the browser (`clearImageCache` from any tab). First every
 * window of the origin is told to forget its records (so no page can hand one
 * back), then the worker forgets its own, which also makes every request still
 * running keep nothing it got (see RecordStore.generation), then the decrypted
 * images go. Resolves with how many images were removed, once all of it is done.
 */
export async function logOut(records: RecordStore, cache: ImageCache, clients: Clients): Promise<number> {
  records.clear()
  const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true })
  await Promise.all(
    windows.map((client) => sendRequest<WorkerRequests, 'forgetRecords'>(client, 'forgetRecords', {}, FORGET_TIMEOUT_MS).catch(() => null)),
  )
  // Again: a request that asked a page before it forgot must not keep that record.
  records.clear()
  return cache.clear()
}
