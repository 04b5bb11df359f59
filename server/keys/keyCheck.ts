import { randomBytes } from 'node:crypto'
import { PixstoreConfigError, PixstoreError } from '../errors'
import type { ImageStore } from '../stores/imageStore'
import type { KeyRing } from './keyRing'

/** Not a valid image id (ids have no dots), so a key check can never be taken for an image's key. */
const KEY_CHECK_ID = '.pixstore-key-check'

/**
 * Whether the configured KEKs can open this store's keys, decided at open
 * without reading any image row. A store's key checks are random values
 * wrapped by every KEK that has wrapped keys in it since the last complete
 * `pixstore rekey` (added before that KEK wraps its first key): a store with
 * checks holds, or may hold, wrapped keys, and each check must unwrap with
 * keyEncryptionKey or one of previousKeyEncryptionKeys. One unwrap per KEK in
 * use, however many images.
 *
 * `readOnly` (a migration's source) checks without adding the current KEK's check.
 */
export async function checkStoreKeys(store: ImageStore, keys: KeyRing, { readOnly = false } = {}): Promise<void> {
  const checks = await store.keyChecks()
  if (!keys.enabled) {
    if (checks.length > 0) {
      throw new PixstoreConfigError('This store holds wrapped image keys: set config field "keyEncryptionKey" (or PIXSTORE_KEY_ENCRYPTION_KEY) to the key encryption key that wrapped them')
    }
    return
  }
  let current = false
  for (const check of checks) {
    try {
      current = (await keys.open(check, KEY_CHECK_ID)).current || current
    } catch (error) {
      if (!(error instanceof PixstoreError) || error.code !== 'ERR_KEY_UNWRAP') throw error
      throw new PixstoreConfigError(
        'Config field "keyEncryptionKey" does not open this store: some of its image keys were wrapped by a key encryption key that is neither keyEncryptionKey nor in previousKeyEncryptionKeys ' +
          '(configure that one, as keyEncryptionKey or in previousKeyEncryptionKeys while "pixstore rekey" moves its keys to the new one)',
      )
    }
  }
  if (!current && !readOnly) await store.writeKeyChecks([await keys.wrap(randomBytes(32), KEY_CHECK_ID)], 'add')
}

/** After a complete rekey every key is under the current KEK: its check alone remains, so older KEKs may be dropped. */
export async function resetStoreKeyChecks(store: ImageStore, keys: KeyRing): Promise<void> {
  await store.writeKeyChecks([await keys.wrap(randomBytes(32), KEY_CHECK_ID)], 'replace')
}
