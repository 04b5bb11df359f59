// One error hierarchy for the package: every kind of error the server, page
// module, worker, protocol and CLI throw on purpose is a PixstoreError with its
// code. Each is provoked the way it happens, not constructed, where Node can run it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { migrateStore } from '../cli/migrate'
import { CliUsageError } from '../cli/errors'
import { chunkedPlaintextLength } from '../protocol/chunked'
import { PixstoreError, type PixstoreErrorCode } from '../protocol/errors'
import { unframeImage } from '../protocol/formats'
import { sendRequest } from '../protocol/messages'
import { PROTOCOL_VERSION } from '../protocol/version'
import { decodeWirePayload } from '../protocol/wire'
import { DEFAULT_IMAGE_CACHE } from '../protocol/workerConfig'
import { DEFAULT_MAX_IMAGE_BYTES } from '../protocol/defaults'
import { resolveFrontendConfig } from '../page/config'
import { PixstoreVersionMismatchError } from '../page/registerWorker'
import { PixstoreBackend } from '../server/backend'
import { ErrorPolicy } from '../server/errors'
import { getImageRecord } from '../server/index'
import { decryptImage } from '../sw/decryptImage'
import { ImageFailure } from '../sw/imageFailure'
import { pageRequestHandlers } from '../sw/pageRequestHandlers'
import { RecordStore } from '../sw/recordStore'
import type { ImageCache } from '../sw/imageCache'
import { tempStore } from './testSupport'

/** Runs `action` and checks it fails with a PixstoreError of `code` (and, when given, of `kind` and matching `message`). */
async function failsWith(action: () => unknown, code: PixstoreErrorCode, message?: RegExp, kind?: Function): Promise<void> {
  let caught: unknown = null
  try {
    await action()
  } catch (error) {
    caught = error
  }
  assert.ok(caught instanceof PixstoreError, `a PixstoreError, got ${caught}`)
  assert.ok(caught instanceof Error)
  assert.equal(caught.code, code, caught.message)
  if (message) assert.match(caught.message, message)
  if (kind) assert.ok(caught instanceof kind, `a ${kind.name}, got ${caught.name}`)
}

describe('one error hierarchy', () => {
  it('protocol: wire, chunked, frame, message timeout and a worker\'s error reply', async () => {
    await failsWith(() => decodeWirePayload(new Uint8Array(0)), 'ERR_WIRE_DECODE')
    await failsWith(() => chunkedPlaintextLength(5), 'ERR_CHUNKED_PAYLOAD')
    await failsWith(() => unframeImage(Uint8Array.of(99, 1, 2)), 'ERR_IMAGE_FRAME', /format byte/)
    const silent = { postMessage: () => {} }
    await failsWith(() => sendRequest(silent, 'hello', {}, 1), 'ERR_MESSAGE_TIMEOUT', /no reply to "hello"/)
    const refusing = { postMessage: (_message: unknown, [port]: MessagePort[]) => port!.postMessage({ pixstore: 'reply', ok: false, error: 'Pixstore: refused' }) }
    await failsWith(() => sendRequest(refusing, 'hello', {}, 10_000), 'ERR_WORKER', /refused/)
  })

  it('worker: decryption, an image failure, a page of another release, a bad request', async () => {
    const meta = { key: new Uint8Array(32), iv: new Uint8Array(12), tag: new Uint8Array(16) }
    await failsWith(() => decryptImage(Uint8Array.of(1, 2, 3), meta), 'ERR_IMAGE_DECRYPT')
    await failsWith(() => decryptImage(Uint8Array.of(1, 2), { ...meta, key: new Uint8Array(16) }), 'ERR_IMAGE_DECRYPT', /key must be 32 bytes/)
    await failsWith(() => {
      throw new ImageFailure('NotFound', 'gone')
    }, 'ERR_IMAGE_FAILED')
    const handlers = pageRequestHandlers({ records: new RecordStore(), cache: () => ({}) as ImageCache, config: () => null, setConfig: () => {}, clients: { claim: async () => {} } as unknown as Clients })
    const config = { backendOrigin: 'http://127.0.0.1:7482', route: '/pixstore-image', imageCache: DEFAULT_IMAGE_CACHE, proofTransport: 'auto' as const, maxImageBytes: DEFAULT_MAX_IMAGE_BYTES }
    await failsWith(() => handlers.connect({ config, protocolVersion: PROTOCOL_VERSION + 1 }), 'ERR_VERSION_MISMATCH', /protocol version/)
    await failsWith(() => handlers.setImageRecords('not a list' as never), 'ERR_USAGE')
  })

  it('page: config and version mismatch', async () => {
    await failsWith(() => resolveFrontendConfig(null, 'http://localhost/'), 'ERR_CONFIG', /must be an object/)
    await failsWith(() => {
      throw new PixstoreVersionMismatchError('old worker')
    }, 'ERR_VERSION_MISMATCH')
  })

  it('server: "custom" mode without a handler is one code wherever it is found; a call before init', async () => {
    const store = tempStore()
    try {
      await failsWith(() => new PixstoreBackend({ ...store.config, errorHandlingMode: 'custom' }, { env: { PIXSTORE_SECRET: 'x'.repeat(32) } }), 'ERR_USAGE', /custom/)
      await failsWith(() => new ErrorPolicy('custom').fail(new Error('boom')), 'ERR_USAGE', /custom/)
    } finally {
      store.cleanup()
    }
    await failsWith(() => getImageRecord('abc'), 'ERR_USAGE', /not initialized/)
  })

  it('CLI: usage errors and a migrate onto itself', async () => {
    await failsWith(() => {
      throw new CliUsageError('--port must be a number')
    }, 'ERR_CLI_USAGE', undefined, CliUsageError)
    const store = tempStore()
    try {
      await failsWith(() => migrateStore({ from: store.config, to: store.config }), 'ERR_CLI_USAGE', /same store/)
    } finally {
      store.cleanup()
    }
  })
})
