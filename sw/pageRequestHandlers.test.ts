import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PROTOCOL_VERSION } from '../protocol/version'
import { DEFAULT_IMAGE_CACHE, type WorkerConfig } from '../protocol/workerConfig'
import { DEFAULT_MAX_IMAGE_BYTES } from '../protocol/defaults'
import type { ImageCache } from './imageCache'
import { pageRequestHandlers } from './pageRequestHandlers'
import { RecordStore } from './recordStore'

// Clients exist only in browsers; this stand-in's claim() fails the way Chromium's does (e2e/ runs the real one).
const config: WorkerConfig = { backendOrigin: 'http://127.0.0.1:7482', route: '/pixstore-image', imageCache: DEFAULT_IMAGE_CACHE, proofTransport: 'auto', maxImageBytes: DEFAULT_MAX_IMAGE_BYTES }

function handlersClaiming(claim: () => Promise<void>) {
  let applied: WorkerConfig | null = null
  const handlers = pageRequestHandlers({
    records: new RecordStore(),
    cache: () => ({}) as ImageCache,
    config: () => applied,
    setConfig: (next) => (applied = next),
    clients: { claim } as unknown as Clients,
  })
  return { handlers, applied: () => applied }
}

describe('connect', () => {
  it('answers a page that connects while the worker still installs (claim refused with InvalidStateError): activate claims later', async () => {
    const { handlers, applied } = handlersClaiming(() => Promise.reject(new DOMException('Only the active worker can claim clients.', 'InvalidStateError')))
    assert.deepEqual(await handlers.connect({ config, protocolVersion: PROTOCOL_VERSION }), { ready: true })
    assert.deepEqual(applied(), config)
  })

  it('claims the page when active, and passes on any other claim failure', async () => {
    let claims = 0
    const active = handlersClaiming(async () => void claims++)
    assert.deepEqual(await active.handlers.connect({ config, protocolVersion: PROTOCOL_VERSION }), { ready: true })
    assert.equal(claims, 1)
    const broken = handlersClaiming(() => Promise.reject(new DOMException('lost', 'AbortError')))
    await assert.rejects(async () => broken.handlers.connect({ config, protocolVersion: PROTOCOL_VERSION }), { name: 'AbortError' })
  })

  it('refuses a page module of another protocol version before touching config or clients', async () => {
    let claims = 0
    const { handlers, applied } = handlersClaiming(async () => void claims++)
    await assert.rejects(async () => handlers.connect({ config, protocolVersion: PROTOCOL_VERSION + 1 }), /protocol version/)
    assert.equal(applied(), null)
    assert.equal(claims, 0)
  })
})
