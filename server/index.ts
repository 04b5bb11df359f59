/**
 * `pixstore/backend`: the module-level API works on the one backend that
 * `initPixstoreBackend` creates; `PixstoreBackend` is there for more.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ImageRecord } from '../protocol/record'
import { PixstoreBackend } from './backend'
import type { PixstoreConfig } from './config'
import { createDefaultEndpointServer } from './http/defaultServer'
import { PixstoreError, type CustomErrorHandler } from './errors'

export { PixstoreBackend, parseClientToken, type EncryptedImageImport, type PixstoreBackendOptions } from './backend'
export { DEFAULT_CONFIG, resolveConfig, type PixstoreConfig } from './config'
export { createDefaultEndpointServer } from './http/defaultServer'
export { createPixstoreApp, createPixstoreRouter, pixstoreMiddleware } from './http/koaMiddleware'
export { ImageDataMissingError, PixstoreConfigError, PixstoreError, type CustomErrorHandler, type ErrorHandlingMode, type PixstoreErrorCode } from './errors'
export { pixstoreServiceWorker, type ServiceWorkerOptions } from './serviceWorker'
export type { KeyEncryptionKey } from './keys/keyWrapping'
export type { ImageRecord } from '../protocol/record'
export { PixstoreState, PROOF_HEADER, TOKEN_HEADER } from '../protocol/wire'

export interface PixstoreHandle {
  backend: PixstoreBackend
  /** The default endpoint's server; null when `defaultEndpointEnabled` is false. */
  server: Server | null
  /** e.g. `http://127.0.0.1:7482`; null without the default endpoint. */
  url: string | null
  /** Stops the server and closes the database. */
  close(): Promise<void>
}

let current: PixstoreBackend | null = null
let pendingCustomHandler: CustomErrorHandler | null = null

/** Validates the whole config, opens the store and (unless disabled) resolves once the endpoint listens. */
export async function initPixstoreBackend(config: Partial<PixstoreConfig> = {}): Promise<PixstoreHandle> {
  if (current) throw new PixstoreError('Pixstore backend is already initialized: close() the previous handle first', 'ERR_USAGE')
  // Resolved once, by the backend: what follows reads backend.config (secrets redacted).
  const backend = new PixstoreBackend(config, { customErrorHandler: pendingCustomHandler ?? undefined })
  const resolved = backend.config
  current = backend
  let server: Server | null = null
  try {
    await backend.open()
    if (resolved.defaultEndpointEnabled) server = await listen(backend)
  } catch (error) {
    await backend.close()
    current = null
    throw error
  }
  const address = server?.address() as AddressInfo | undefined
  const host = resolved.defaultEndpointListenHost
  const publicHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  return {
    backend,
    server,
    url: address ? `http://${publicHost}:${address.port}` : null,
    close: async () => {
      if (server) {
        const closing = new Promise<void>((resolve, reject) => server!.close((error) => (error ? reject(error) : resolve())))
        server.closeAllConnections()
        await closing
      }
      await backend.close()
      if (current === backend) current = null
    },
  }
}

function listen(backend: PixstoreBackend): Promise<Server> {
  const { defaultEndpointListenHost: host, defaultEndpointListenPort: port } = backend.config
  return new Promise((resolve, reject) => {
    const server = createDefaultEndpointServer(backend).listen(port, host)
    server.once('listening', () => resolve(server))
    server.once('error', reject)
  })
}

function backend(): PixstoreBackend {
  if (!current) throw new PixstoreError('Pixstore backend is not initialized: call initPixstoreBackend() first', 'ERR_USAGE')
  return current
}

export const saveImage = async (buffer: Uint8Array, dir?: string): Promise<ImageRecord | null> => backend().saveImage(buffer, dir)
export const saveImageFromFile = async (path: string, dir?: string): Promise<ImageRecord | null> => backend().saveImageFromFile(path, dir)
export const updateImage = async (id: string, buffer: Uint8Array): Promise<ImageRecord | null> => backend().updateImage(id, buffer)
export const updateImageFromFile = async (id: string, path: string): Promise<ImageRecord | null> => backend().updateImageFromFile(id, path)
export const deleteImage = async (id: string): Promise<boolean | null> => backend().deleteImage(id)
export const imageExists = async (id: string): Promise<boolean | null> => backend().imageExists(id)
export const getImageRecord = async (id: string): Promise<ImageRecord | null> => backend().getImageRecord(id)
export const getImageRecords = async (ids: readonly string[]): Promise<ImageRecord[] | null> => backend().getImageRecords(ids)
export const customEndpointHelper = async (id: string | null | undefined, clientToken: unknown, proof: string | null | undefined): Promise<Uint8Array> =>
  backend().customEndpointHelper(id, clientToken, proof)

/** The most recent expected error of the current backend (why a call gave null). */
export const getLastPixstoreError = (): PixstoreError | null => current?.lastError ?? null

/** Handler for `errorHandlingMode: 'custom'`; set it before initPixstoreBackend. */
export function setCustomErrorHandler(handler: CustomErrorHandler | null): void {
  pendingCustomHandler = handler
  current?.setCustomErrorHandler(handler)
}
