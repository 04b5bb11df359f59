import assert from 'node:assert/strict'
import type { ImageRecord } from '../protocol/record'
import { decodeImageMeta } from '../protocol/record'
import { PixstoreState } from '../protocol/wire'
import { PixstoreBackend } from '../server/backend'
import type { PixstoreConfig } from '../server/config'
import { createPixstoreApp } from '../server/http/koaMiddleware'
import type { KeyEncryptionKeyOption } from '../server/keys/keyRing'
import { fetchWire, openPayload, proofHeaders, serve, TEST_SECRET } from './testSupport'

/** A backend on `config` with these key encryption keys (none: keys stored raw), throwing every error, the environment ignored. */
export function backendWithKeys(config: Partial<PixstoreConfig>, keyEncryptionKey?: KeyEncryptionKeyOption, previousKeyEncryptionKeys: KeyEncryptionKeyOption[] = []): PixstoreBackend {
  return new PixstoreBackend({ ...config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'throw', keyEncryptionKey, previousKeyEncryptionKeys }, { env: {} })
}

/**
 * Records handed out before still work on `backend`, through a real endpoint:
 * the same key and token from getImageRecord, Success for the held token
 * decrypting to the same image, and an Updated answer (no token) carrying the same key.
 */
export async function assertRecordsValid(backend: PixstoreBackend, records: Map<ImageRecord, Buffer>): Promise<void> {
  const site = await serve(createPixstoreApp(backend))
  try {
    for (const [record, image] of records) {
      const fresh = (await backend.getImageRecord(record.id))!
      assert.deepEqual(fresh.meta, record.meta, `${record.id}: same key`)
      assert.equal(fresh.token, record.token)
      const held = { ...record, statelessProof: fresh.statelessProof }
      const success = await fetchWire(site.url, record.id, proofHeaders(held))
      assert.equal(success.payload.state, PixstoreState.Success)
      assert.deepEqual(openPayload(success.payload, held).image, image)
      const updated = await fetchWire(site.url, record.id, proofHeaders(held, false))
      assert.equal(updated.payload.state, PixstoreState.Updated)
      assert.deepEqual(openPayload(updated.payload, held).image, image)
      if (updated.payload.state === PixstoreState.Updated) assert.deepEqual(Buffer.from(updated.payload.meta.key), Buffer.from(decodeImageMeta(record.meta).key))
    }
  } finally {
    await site.close()
  }
}

/** The same on a backend opened (so its key checks run) on `config` with these KEKs, then closed. */
export async function assertRecordsValidOn(config: Partial<PixstoreConfig>, records: Map<ImageRecord, Buffer>, keyEncryptionKey?: KeyEncryptionKeyOption, previous: KeyEncryptionKeyOption[] = []): Promise<void> {
  const backend = backendWithKeys(config, keyEncryptionKey, previous)
  try {
    await backend.open()
    await assertRecordsValid(backend, records)
  } finally {
    await backend.close()
  }
}
