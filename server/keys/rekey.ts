import { checkStoreKeys, resetStoreKeyChecks } from './keyCheck'
import type { ImageStore } from '../stores/imageStore'
import type { KeyRing } from './keyRing'

export type RekeyOutcome = 'rewrapped' | 'already current' | 'gone'

const ATTEMPTS = 5

/**
 * Wraps one image's stored key under the current KEK (a raw key too), keeping
 * the key itself, so records handed out before stay valid. The swap only
 * happens if the row still holds what was read: an update in between (whose
 * new key the current KEK wrapped already) is read again, never overwritten.
 * Idempotent: a key already under the current KEK is left alone.
 */
export async function rekeyImage(store: ImageStore, keys: KeyRing, id: string): Promise<RekeyOutcome> {
  if (!keys.enabled) throw new Error('rekey needs a keyEncryptionKey')
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const image = await store.get(id)
    if (!image) return 'gone'
    const opened = await keys.open(image.key, id)
    if (opened.current) return 'already current'
    if (await store.replaceKey(id, image.token, image.key, await keys.wrap(opened.key, id))) return 'rewrapped'
  }
  throw new Error(`Image ${id} kept changing while being rekeyed`)
}

export type RekeyStatus = RekeyOutcome | 'failed'

export interface RekeyHooks {
  /** How many images there are to walk, before the first. */
  onStart?(total: number): void
  /** Each image as it is done; `reason` when it failed. */
  onImage?(id: string, status: RekeyStatus, reason?: string): void
  /** The keys are rewrapped, but the store's log could not be emptied yet (old raw keys may stay in it until it is). */
  onLogKept?(reason: string): void
}

/**
 * Rekeys every image of an open store: checks the KEKs open it, rewraps each
 * key (one failure does not stop the walk), and when none failed leaves only
 * the current KEK's key check and empties the store's log (old raw keys in
 * SQLite's WAL), so the older KEKs are no longer needed. Returns the count per status.
 */
export async function rekeyStore(store: ImageStore, keys: KeyRing, hooks: RekeyHooks = {}): Promise<Record<RekeyStatus, number>> {
  await checkStoreKeys(store, keys)
  const ids: string[] = []
  for await (const id of store.ids()) ids.push(id)
  hooks.onStart?.(ids.length)
  const counts: Record<RekeyStatus, number> = { rewrapped: 0, 'already current': 0, gone: 0, failed: 0 }
  for (const id of ids) {
    try {
      const outcome = await rekeyImage(store, keys, id)
      counts[outcome]++
      hooks.onImage?.(id, outcome)
    } catch (error) {
      counts.failed++
      hooks.onImage?.(id, 'failed', error instanceof Error ? error.message : String(error))
    }
  }
  if (counts.failed === 0) {
    await resetStoreKeyChecks(store, keys)
    await store.flushLog?.().catch((error: Error) => hooks.onLogKept?.(error.message))
  }
  return counts
}
