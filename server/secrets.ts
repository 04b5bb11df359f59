import { randomBytes } from 'node:crypto'
import type { PixstoreConfig } from './config'
import { isKeyEncryptionKey, KEY_ENCRYPTION_KEY_RULE, MIN_SECRET_LENGTH } from './config'
import { PixstoreConfigError } from './errors'
import { KeyRing } from './keys/keyRing'
import type { ProofKeys } from './proof'

/**
 * The one place the proof secret and the key encryption keys are resolved
 * (config, then env), warned about when missing, and hidden from the config
 * everyone else reads. Secrets then live only in the backend's #private fields.
 */

type Env = Record<string, string | undefined>
type Warn = (message: string) => void

/**
 * Env names a process hands to the processes it starts (`serve --workers`)
 * so they use its resolution instead of redoing it: a random proof secret all
 * share, and which "missing" warnings were already printed (once per command,
 * not once per process: N workers printed the KEK warning N+1 times).
 */
export const WARNED_ENV = 'PIXSTORE_SECRET_WARNINGS_SHOWN'

export interface ResolvedSecrets {
  proofKeys: ProofKeys
  keyRing: KeyRing
  /** Env for the processes this one starts: they then share the proof secret and print no warning again. */
  childEnv: Record<string, string>
}

/** Both secrets, each warned about once per command when missing. `sharedByWorkers`: the wording for a cluster's primary. */
export function resolveSecrets(config: SecretFields, env: Env, warn: Warn, { sharedByWorkers = false } = {}): ResolvedSecrets {
  const warned = new Set((env[WARNED_ENV] ?? '').split(',').filter(Boolean))
  const once = (kind: string, message: string) => {
    if (!warned.has(kind)) warn(message)
    warned.add(kind)
  }
  const childEnv: Record<string, string> = {}
  const proofKeys = resolveProofKeys(config, env, (message) => once('proof', message), sharedByWorkers)
  if (config.statelessProofSecret === undefined && env.PIXSTORE_SECRET === undefined) childEnv.PIXSTORE_SECRET = proofKeys.current
  const keyRing = resolveKeyRing(config, env, (message) => once('kek', message))
  childEnv[WARNED_ENV] = [...warned].join(',')
  return { proofKeys, keyRing, childEnv }
}

type SecretFields = Pick<PixstoreConfig, 'statelessProofSecret' | 'previousStatelessProofSecrets' | 'keyEncryptionKey' | 'previousKeyEncryptionKeys'>

/**
 * Picks the proof secret: config, then PIXSTORE_SECRET, then a random
 * per-process one (proofs then die with the process and differ per instance,
 * which is why it warns).
 */
export function resolveProofKeys(config: Pick<PixstoreConfig, 'statelessProofSecret' | 'previousStatelessProofSecrets'>, env: Env, warn: Warn, sharedByWorkers = false): ProofKeys {
  const fromEnv = env.PIXSTORE_SECRET
  if (config.statelessProofSecret === undefined && fromEnv !== undefined && fromEnv.length < MIN_SECRET_LENGTH) {
    throw new PixstoreConfigError(`PIXSTORE_SECRET must be at least ${MIN_SECRET_LENGTH} characters`)
  }
  let current = config.statelessProofSecret ?? fromEnv
  if (current === undefined) {
    warn(
      sharedByWorkers
        ? '[pixstore] No statelessProofSecret or PIXSTORE_SECRET set: the workers share a random secret, so proofs do not survive a restart.'
        : '[pixstore] No statelessProofSecret or PIXSTORE_SECRET set: using a random per-process secret, so proofs do not survive a restart or work across instances.',
    )
    current = randomBytes(32).toString('base64url')
  }
  return { current, previous: config.previousStatelessProofSecrets }
}

/**
 * Picks the key encryption keys: config, then PIXSTORE_KEY_ENCRYPTION_KEY (and
 * PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS, comma-separated). Without any, keys
 * are stored raw as before, which is why it warns: a copy of the disk then
 * decrypts every image.
 */
export function resolveKeyRing(config: Pick<PixstoreConfig, 'keyEncryptionKey' | 'previousKeyEncryptionKeys'>, env: Env, warn: Warn): KeyRing {
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

function fromEnv(env: Env, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}

const REDACTED = '[redacted]'

/** In place, so the config keeps its own print guards (databaseUrl's password); resolveConfig made it fresh. */
export function redactSecrets(config: PixstoreConfig): PixstoreConfig {
  if (config.statelessProofSecret !== undefined) config.statelessProofSecret = REDACTED
  config.previousStatelessProofSecrets = config.previousStatelessProofSecrets.map(() => REDACTED)
  if (config.keyEncryptionKey !== undefined) config.keyEncryptionKey = REDACTED
  config.previousKeyEncryptionKeys = config.previousKeyEncryptionKeys.map(() => REDACTED)
  return config
}
