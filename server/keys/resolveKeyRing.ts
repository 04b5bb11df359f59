import type { PixstoreConfig } from '../config'
import { isKeyEncryptionKey, KEY_ENCRYPTION_KEY_RULE } from '../config'
import { PixstoreConfigError } from '../errors'
import { KeyRing } from './keyRing'

/**
 * Picks the key encryption keys: config, then PIXSTORE_KEY_ENCRYPTION_KEY (and
 * PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS, comma-separated). Without any, keys
 * are stored raw as before, which is why it warns: a copy of the disk then
 * decrypts every image.
 */
export function resolveKeyRing(
  config: Pick<PixstoreConfig, 'keyEncryptionKey' | 'previousKeyEncryptionKeys'>,
  env: Record<string, string | undefined>,
  warn: (message: string) => void,
): KeyRing {
  const current = config.keyEncryptionKey ?? fromEnv(env, 'PIXSTORE_KEY_ENCRYPTION_KEY')
  const previous = config.previousKeyEncryptionKeys.length > 0 ? config.previousKeyEncryptionKeys : (fromEnv(env, 'PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS')?.split(',').map((key) => key.trim()).filter(Boolean) ?? [])
  for (const key of previous) {
    if (!isKeyEncryptionKey(key)) throw new PixstoreConfigError(`Invalid config field "previousKeyEncryptionKeys" (from PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS): not shown, it is a secret; allowed: a comma-separated list of keys, each ${KEY_ENCRYPTION_KEY_RULE}`)
  }
  if (current === undefined) {
    warn('[pixstore] No keyEncryptionKey or PIXSTORE_KEY_ENCRYPTION_KEY set: image keys are stored unwrapped, so a copy of the store decrypts every image.')
  } else if (!isKeyEncryptionKey(current)) {
    throw new PixstoreConfigError(`Invalid config field "keyEncryptionKey" (from PIXSTORE_KEY_ENCRYPTION_KEY): not shown, it is a secret; allowed: ${KEY_ENCRYPTION_KEY_RULE}`)
  }
  return new KeyRing(current, previous)
}

function fromEnv(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}
