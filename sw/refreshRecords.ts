import type { ImageRecord } from '../protocol/record'
import { ImageFailure, type ImageFailureState } from './imageFailure'

/**
 * How long a request may wait for a page's `refreshRecords` callback (the
 * app's API). Longer than the page's own bound (REFRESH_TIMEOUT_MS in page/),
 * so the page always answers first, with null if the app hung.
 */
export const REFRESH_LOOKUP_TIMEOUT_MS = 12_000

/** Backend answers a fresh proof can fix. */
const REFRESHABLE: ReadonlySet<ImageFailureState> = new Set(['InvalidProof', 'MissingProof'])

export interface RecordSources {
  /** The record the worker holds, or one a page holds; null when nobody has it. */
  lookup(): Promise<ImageRecord | null>
  /** A fresh record from the page's `refreshRecords`; null when it has none. */
  refresh(): Promise<ImageRecord | null>
}

/**
 * Serves one image request with at most one retry: when nobody holds a
 * record, or the backend refused the proof, the page is asked for a fresh
 * record and `attempt` runs once more with it. Whatever that second attempt
 * gives is final, so an app that keeps handing out bad proofs cannot make a
 * request loop. Without a fresh record the first failure stands.
 */
export async function withRecordRefresh<T>(sources: RecordSources, attempt: (record: ImageRecord) => Promise<T>, noRecord: () => ImageFailure): Promise<T> {
  const held = await sources.lookup()
  if (!held) {
    const fresh = await sources.refresh()
    if (!fresh) throw noRecord()
    return attempt(fresh)
  }
  try {
    return await attempt(held)
  } catch (error) {
    if (!(error instanceof ImageFailure) || !REFRESHABLE.has(error.state)) throw error
    const fresh = await sources.refresh()
    if (!fresh) throw error
    return attempt(fresh)
  }
}
