import { randomBytes } from 'node:crypto'
import { PixstoreBackend } from '../server/backend'
import type { PixstoreConfig } from '../server/config'

/**
 * A backend for offline work (import, verify): no endpoint, every failure
 * thrown so the command can report it per item, and, when no secret is
 * configured, a throwaway one: these commands sign no proofs anyone keeps.
 */
export async function openOfflineBackend(config: PixstoreConfig): Promise<PixstoreBackend> {
  const backend = new PixstoreBackend(
    { ...config, defaultEndpointEnabled: false, errorHandlingMode: 'throw', statelessProofSecret: config.statelessProofSecret ?? randomBytes(32).toString('base64url') },
    { env: {} },
  )
  await backend.open()
  return backend
}
