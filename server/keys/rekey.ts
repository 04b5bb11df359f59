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
