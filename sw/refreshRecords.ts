import type { ImageRecord } from '../protocol/record'
import { ImageFailure, type ImageFailureState } from './imageFailure'

/** Backend answers a fresh proof can fix. */
const REFRESHABLE: ReadonlySet<ImageFailureState> = new Set(['InvalidProof', 'MissingProof'])

/**
 * A proof that expires within this is refreshed before the fetch: it covers
 * the trip to the backend and the page's batching of refreshRecords calls.
 */
export const PROOF_REFRESH_MARGIN_MS = 1000

/** Whether `record` says its proof has expired, or will before a request could reach the backend. 3.x records never do. */
export function proofExpiresSoon(record: ImageRecord, now: number): boolean {
  return record.proofExpiresAt !== undefined && record.proofExpiresAt - now < PROOF_REFRESH_MARGIN_MS
}

export interface RecordSources {
  /** The record the worker holds, or one a page holds; null when nobody has it. */
  lookup(): Promise<ImageRecord | null>
  /** A fresh record from the page's `refreshRecords`; null when it has none. */
  refresh(): Promise<ImageRecord | null>
}

/**
 * Serves one image request with at most one question to the page for a fresh
 * record: when nobody holds a record, when the held record says its proof
 * has expired (or is about to: then the fresh one is asked for before the
 * fetch, so a stale tab costs one backend request per image, not two), or
 * when the backend refused the proof. Whatever the attempt with the fresh
 * record gives is final, so an app that keeps handing out bad proofs cannot
 * make a request loop. Without a fresh record the held one is tried, and
 * the first failure stands.
 */
export async function withRecordRefresh<T>(
  sources: RecordSources,
  attempt: (record: ImageRecord) => Promise<T>,
  noRecord: () => ImageFailure,
  now: () => number = Date.now,
): Promise<T> {
  const held = await sources.lookup()
  if (!held || proofExpiresSoon(held, now())) {
    const fresh = await sources.refresh()
    if (fresh) return attempt(fresh)
    if (!held) throw noRecord()
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
