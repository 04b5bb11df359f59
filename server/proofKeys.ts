import { randomBytes } from 'node:crypto'
import type { PixstoreConfig } from './config'
import { MIN_SECRET_LENGTH } from './config'
import { PixstoreConfigError } from './errors'
import type { ProofKeys } from './proof'

/**
 * Picks the proof secret: config, then PIXSTORE_SECRET, then a random
 * per-process one (proofs then die with the process and differ per instance,
 * which is why it warns).
 */
export function resolveProofKeys(
  config: Pick<PixstoreConfig, 'statelessProofSecret' | 'previousStatelessProofSecrets'>,
  env: Record<string, string | undefined>,
  warn: (message: string) => void,
): ProofKeys {
  const fromEnv = env.PIXSTORE_SECRET
  if (config.statelessProofSecret === undefined && fromEnv !== undefined && fromEnv.length < MIN_SECRET_LENGTH) {
    throw new PixstoreConfigError(`PIXSTORE_SECRET must be at least ${MIN_SECRET_LENGTH} characters`)
  }
  let current = config.statelessProofSecret ?? fromEnv
  if (current === undefined) {
    warn('[pixstore] No statelessProofSecret or PIXSTORE_SECRET set: using a random per-process secret, so proofs do not survive a restart or work across instances.')
    current = randomBytes(32).toString('base64url')
  }
  return { current, previous: config.previousStatelessProofSecrets }
}
