// Envelope encryption of image keys, end to end on both stores: what a copy of the disk holds,
// moved keys, rotation, rekey, opening without the KEK, and the KMS object form.
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { after, describe, it } from 'node:test'
import { decodeImageMeta, type ImageRecord } from '../../protocol/record'
import { PixstoreState } from '../../protocol/wire'
import { sharedPostgresCluster } from '../../testing/postgresCluster'
import { PixstoreBackend } from '../backend'
import { resolveConfig, type PixstoreConfig } from '../config'
import { createPixstoreApp } from '../http/koaMiddleware'
import { PixstoreConfigError, PixstoreError } from '../errors'
import { openImageStore } from '../stores/openImageStore'
import { fetchWire, fixtureImages, openPayload, proofHeaders, readFixture, serve, STORE_KINDS, storeConfig, TEST_SECRET, type StoreKind } from '../../testing/testSupport'
import { assertRecordsValid, assertRecordsValidOn, backendWithKeys } from '../../testing/recordChecks'
import { KeyRing } from './keyRing'
import { rekeyStore } from './rekey'
import type { KeyEncryptionKey } from './keyWrapping'

const IMAGES = [...fixtureImages('png'), ...fixtureImages('jpg'), ...fixtureImages('webp')].map(readFixture)
const KEK_A = randomBytes(32).toString('base64')
const KEK_B = randomBytes(32).toString('hex')
const KEK_C = randomBytes(32).toString('base64url')

const rawKeyOf = (record: ImageRecord) => Buffer.from(decodeImageMeta(record.meta).key)

/** Runs `action` with console.warn/error captured. */
async function capturingConsole<T>(action: () => Promise<T>): Promise<{ result: T; printed: string[] }> {
  const { error, warn } = console
  const printed: string[] = []
  console.error = console.warn = (...args: unknown[]) => void printed.push(args.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' '))
  try {
    return { result: await action(), printed }
  } finally {
    Object.assign(console, { error, warn })
  }
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
}

/** A store's place, with what a copy of its disk would hold and raw access to its key column. */
interface TestStore {
  config: Partial<PixstoreConfig>
  /** SQLite: database, -wal, -shm, version files. PostgreSQL: the cluster's whole data dir (tables, TOAST, WAL) after a CHECKPOINT. */
  files(): Promise<string[]>
  readKey(id: string): Promise<Buffer>
  writeKey(id: string, key: Buffer): Promise<void>
}

async function testStore(kind: StoreKind, cleanups: (() => void)[]): Promise<TestStore> {
  const temp = await storeConfig(kind)
  cleanups.push(temp.cleanup)
  const config = temp.config
  if (kind === 'sqlite') {
    const databasePath = config.databasePath!
    const withDb = <T>(run: (db: Database.Database) => T): T => {
      const db = new Database(databasePath)
      try {
        return run(db)
      } finally {
        db.close()
      }
    }
    return {
      config,
      files: async () => [databasePath, `${databasePath}-wal`, `${databasePath}-shm`].filter(existsSync).concat(filesUnder(config.imageRootDir!)),
      readKey: async (id) => withDb((db) => db.prepare<[string], { key: Buffer }>('SELECT key FROM pixstore_images WHERE id = ?').get(id)!.key),
      writeKey: async (id, key) => void withDb((db) => db.prepare('UPDATE pixstore_images SET key = ? WHERE id = ?').run(key, id)),
    }
  }
  const cluster = await sharedPostgresCluster()
  const database = new URL(config.databaseUrl!).pathname.slice(1)
  return {
    config,
    files: async () => {
      await cluster.admin('CHECKPOINT')
      const [row] = await cluster.admin<{ heap: string }>("SELECT pg_relation_filepath('pixstore_images') AS heap", database)
      const files = filesUnder(cluster.dataDir)
      const table = path.join(cluster.dataDir, row!.heap)
      assert.ok(files.includes(table) && statSync(table).size > 0, 'the table itself is among the files read')
      return files
    },
    readKey: async (id) => (await cluster.admin<{ key: Buffer }>('SELECT key FROM pixstore_images WHERE id = $1', database, [id]))[0]!.key,
    writeKey: async (id, key) => void (await cluster.admin('UPDATE pixstore_images SET key = $1 WHERE id = $2', database, [key, id])),
  }
}

/** The files holding any of `keys`, as "file: key n". */
function leaks(files: string[], keys: Buffer[]): string[] {
  const found: string[] = []
  for (const file of files) {
    let bytes: Buffer
    try {
      bytes = readFileSync(file)
    } catch {
      continue // removed while we walked (PostgreSQL's temp files)
    }
    keys.forEach((key, n) => bytes.includes(key) && found.push(`${file}: key ${n}`))
  }
  return found
}

async function saveAll(backend: PixstoreBackend, count = 4): Promise<Map<ImageRecord, Buffer>> {
  const records = new Map<ImageRecord, Buffer>()
  for (let i = 0; i < count; i++) records.set((await backend.saveImage(IMAGES[i % IMAGES.length]!, i % 2 ? 'album' : undefined))!, IMAGES[i % IMAGES.length]!)
  return records
}

async function rekey(store: TestStore, keyEncryptionKey: string, previous: string[] = []) {
  const opened = openImageStore(resolveConfig(store.config, {}))
  await opened.open()
  try {
    const statuses: string[] = []
    const counts = await rekeyStore(opened, new KeyRing(keyEncryptionKey, previous), { onImage: (_id, status) => statuses.push(status) })
    return { counts, statuses }
  } finally {
    await opened.close()
  }
}

/** A real key-wrapping object, as a KMS client would be: its own AES key, the id bound in, every call recorded. */
class LocalKms implements KeyEncryptionKey {
  readonly #key = randomBytes(32)
  readonly calls: { op: 'wrap' | 'unwrap'; id: string }[] = []

  async wrapKey(key: Uint8Array, id: string): Promise<Uint8Array> {
    this.calls.push({ op: 'wrap', id })
    const nonce = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce).setAAD(Buffer.from(id))
    return Buffer.concat([Buffer.from('kms:v1:'), nonce, cipher.update(key), cipher.final(), cipher.getAuthTag()])
  }

  async unwrapKey(wrapped: Uint8Array, id: string): Promise<Uint8Array> {
    this.calls.push({ op: 'unwrap', id })
    const bytes = Buffer.from(wrapped)
    if (!bytes.subarray(0, 7).equals(Buffer.from('kms:v1:'))) throw new Error('not wrapped by this KMS')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(7, 19)).setAAD(Buffer.from(id))
    decipher.setAuthTag(bytes.subarray(bytes.length - 16))
    return Buffer.concat([decipher.update(bytes.subarray(19, bytes.length - 16)), decipher.final()])
  }
}

for (const kind of STORE_KINDS) {
  describe(`image keys at rest: ${kind}`, () => {
    const cleanups: (() => void)[] = []
    after(() => cleanups.forEach((cleanup) => cleanup()))

    it('with a KEK no raw key of any record is anywhere in the store\'s files; without one the same search finds them', async () => {
      const store = await testStore(kind, cleanups)
      const backend = backendWithKeys(store.config, KEK_A)
      await backend.open()
      try {
        const records = [...(await saveAll(backend, 6)).keys()]
        const first = records[0]!
        records.push((await backend.updateImage(first.id, IMAGES[1]!))!)
        records.push(...(await backend.getImageRecords(records.map((record) => record.id)))!)
        const keys = records.map(rawKeyOf)
        assert.equal(new Set(keys.map((key) => key.toString('hex'))).size, 7, 'six images and one update, each its own key')
        for (const record of records.slice(1, 6)) assert.equal((await store.readKey(record.id)).length, 69, 'stored wrapped')
        assert.deepEqual(leaks(await store.files(), keys), [], 'while open (SQLite: WAL and shm present)')
        await backend.close()
        assert.deepEqual(leaks(await store.files(), keys), [], 'after close')
      } finally {
        await backend.close()
      }
      // The control: the same search on a store written without a KEK finds the keys.
      const plain = await testStore(kind, cleanups)
      const { result: unwrapped } = await capturingConsole(async () => backendWithKeys(plain.config))
      const record = (await unwrapped.saveImage(IMAGES[0]!))!
      assert.notDeepEqual(leaks(await plain.files(), [rawKeyOf(record)]), [])
      await unwrapped.close()
    })

    it('a wrapped key moved to another row does not unwrap: records fail with ERR_KEY_UNWRAP, the endpoint answers InternalError', async () => {
      const store = await testStore(kind, cleanups)
      const backend = backendWithKeys(store.config, KEK_A)
      const site = await serve(createPixstoreApp(backend))
      try {
        const [a, b] = [...(await saveAll(backend, 2)).keys()] as [ImageRecord, ImageRecord]
        const [keyA, keyB] = [await store.readKey(a.id), await store.readKey(b.id)]
        await store.writeKey(a.id, keyB)
        await store.writeKey(b.id, keyA)
        for (const id of [a.id, b.id]) {
          await assert.rejects(backend.getImageRecord(id), (error: unknown) => error instanceof PixstoreError && error.code === 'ERR_KEY_UNWRAP' && /does not unwrap with keyEncryptionKey/.test(error.message) && error.message.includes(id))
        }
        await assert.rejects(backend.getImageRecords([a.id]), (error: unknown) => error instanceof PixstoreError && error.code === 'ERR_KEY_UNWRAP')
        await assert.rejects(backend.verifyImage(a.id), (error: unknown) => error instanceof PixstoreError && error.code === 'ERR_KEY_UNWRAP')
        const { result: answer, printed } = await capturingConsole(() => fetchWire(site.url, a.id, proofHeaders(a, false)))
        assert.equal(answer.payload.state, PixstoreState.InternalError)
        assert.equal(answer.response.headers.get('content-length'), '1', 'one byte: no key, no ciphertext')
        assert.match(printed.join('\n'), new RegExp(`Image ${a.id}: its stored key does not unwrap`))
        // The endpoint's logging rule: once per damaged image, not a line per request (good answers in between end no outage).
        const good = (await backend.saveImage(IMAGES[0]!))!
        const { printed: repeated } = await capturingConsole(async () => {
          for (let i = 0; i < 20; i++) {
            assert.equal((await fetchWire(site.url, a.id, proofHeaders(a, false))).payload.state, PixstoreState.InternalError)
            assert.equal((await fetchWire(site.url, good.id, proofHeaders(good, false))).payload.state, PixstoreState.Updated)
          }
        })
        assert.deepEqual(repeated, [], '40 more requests, no more log lines')
        // Put back, both serve again: it was the move that failed.
        await store.writeKey(a.id, keyA)
        await store.writeKey(b.id, keyB)
        assert.deepEqual((await backend.getImageRecord(a.id))!.meta, a.meta)
        assert.equal((await fetchWire(site.url, b.id, proofHeaders(b, false))).payload.state, PixstoreState.Updated)
      } finally {
        await site.close()
        await backend.close()
      }
    })

    it('rotation: with the old KEK in previousKeyEncryptionKeys old records stay valid; without it the store refuses to open until rekey moved every key', async () => {
      const store = await testStore(kind, cleanups)
      const first = backendWithKeys(store.config, KEK_A)
      const old = await saveAll(first)
      await first.close()

      const rotated = backendWithKeys(store.config, KEK_B, [KEK_A])
      await rotated.open()
      await assertRecordsValid(rotated, old)
      const added = await saveAll(rotated, 2)
      await rotated.close()

      await assert.rejects(backendWithKeys(store.config, KEK_B).open(), (error: unknown) => error instanceof PixstoreConfigError && /"keyEncryptionKey" does not open this store/.test(error.message))

      const run = await rekey(store, KEK_B, [KEK_A])
      assert.deepEqual(run.counts, { rewrapped: old.size, 'already current': added.size, gone: 0, failed: 0 })
      const again = await rekey(store, KEK_B, [KEK_A])
      assert.deepEqual(again.counts, { rewrapped: 0, 'already current': old.size + added.size, gone: 0, failed: 0 }, 'a second run has nothing left to do')

      await assertRecordsValidOn(store.config, new Map([...old, ...added]), KEK_B)
      await assert.rejects(backendWithKeys(store.config, KEK_A).open(), /"keyEncryptionKey" does not open this store/, 'the old KEK alone no longer opens it')
    })

    it('rekey turns a store without wrapped keys into one with them; records handed out before decrypt the same images', async () => {
      const store = await testStore(kind, cleanups)
      const { result: plain } = await capturingConsole(async () => backendWithKeys(store.config))
      const old = await saveAll(plain)
      await plain.close()
      for (const record of old.keys()) assert.deepEqual(await store.readKey(record.id), rawKeyOf(record), 'stored raw, as before')

      // A KEK on a store of raw keys: both kinds serve side by side until rekey runs.
      const mixed = backendWithKeys(store.config, KEK_C)
      await mixed.open()
      const added = await saveAll(mixed, 1)
      await assertRecordsValid(mixed, new Map([...old, ...added]))

      // Rekey while the store serves (the serving backend keeps SQLite's WAL in use).
      const run = await rekey(store, KEK_C)
      assert.deepEqual(run.counts, { rewrapped: old.size, 'already current': 1, gone: 0, failed: 0 })
      for (const record of old.keys()) assert.equal((await store.readKey(record.id)).length, 69)
      if (kind === 'sqlite') assert.deepEqual(leaks(await store.files(), [...old.keys()].map(rawKeyOf)), [], 'rekey leaves no raw key in the database or its WAL')
      await assertRecordsValid(mixed, new Map([...old, ...added]))
      await mixed.close()

      await assertRecordsValidOn(store.config, new Map([...old, ...added]), KEK_C)
    })

    it('a store holding wrapped keys refuses to open without a KEK, or with one that did not wrap them, naming keyEncryptionKey', async () => {
      const store = await testStore(kind, cleanups)
      const writer = backendWithKeys(store.config, KEK_A)
      await writer.open()
      await saveAll(writer, 1)
      await writer.close()
      const { result: without } = await capturingConsole(async () => backendWithKeys(store.config))
      await assert.rejects(without.open(), (error: unknown) => error instanceof PixstoreConfigError && /This store holds wrapped image keys: set config field "keyEncryptionKey"/.test(error.message))
      await without.close()
      const wrong = backendWithKeys(store.config, KEK_C)
      await assert.rejects(wrong.open(), (error: unknown) => error instanceof PixstoreConfigError && /"keyEncryptionKey" does not open this store/.test(error.message))
      await wrong.close()
    })

    it('a KEK object (the KMS seam) wraps and unwraps every key, and rotation from a local KEK to it keeps old records', async () => {
      const store = await testStore(kind, cleanups)
      const first = backendWithKeys(store.config, KEK_A)
      const old = await saveAll(first, 2)
      await first.close()

      const kms = new LocalKms()
      const backend = backendWithKeys(store.config, kms, [KEK_A])
      await backend.open()
      try {
        const added = await saveAll(backend, 2)
        for (const record of added.keys()) {
          assert.ok(kms.calls.some((call) => call.op === 'wrap' && call.id === record.id), 'the object wrapped the new key for its id')
          const stored = await store.readKey(record.id)
          assert.equal(stored[0], 0x02, 'object-wrapped form')
          assert.ok(stored.subarray(1, 8).equals(Buffer.from('kms:v1:')), 'holding what the object returned')
        }
        const unwrapsBefore = kms.calls.filter((call) => call.op === 'unwrap').length
        await assertRecordsValid(backend, new Map([...old, ...added]))
        assert.ok(kms.calls.filter((call) => call.op === 'unwrap').length > unwrapsBefore, 'records and Updated answers asked the object')
        const run = await (async () => {
          const opened = openImageStore(resolveConfig(store.config, {}))
          await opened.open()
          try {
            return await rekeyStore(opened, new KeyRing(kms, [KEK_A]))
          } finally {
            await opened.close()
          }
        })()
        assert.deepEqual(run, { rewrapped: old.size, 'already current': added.size, gone: 0, failed: 0 })
        for (const record of old.keys()) assert.equal((await store.readKey(record.id))[0], 0x02)
      } finally {
        await backend.close()
      }
      await assertRecordsValidOn(store.config, old, kms)
    })
  })
}

describe('key encryption key config', () => {
  const cleanups: (() => void)[] = []
  after(() => cleanups.forEach((cleanup) => cleanup()))

  it('warns once at start without a KEK, and not at all with one (config or PIXSTORE_KEY_ENCRYPTION_KEY)', async () => {
    const run = async (config: Partial<PixstoreConfig>, env: Record<string, string> = {}) => {
      const store = await testStore('sqlite', cleanups)
      return capturingConsole(async () => {
        const backend = new PixstoreBackend({ ...store.config, statelessProofSecret: TEST_SECRET, ...config }, { env })
        await backend.open()
        const record = (await backend.saveImage(IMAGES[0]!))!
        await backend.getImageRecord(record.id)
        await backend.close()
        return store.readKey(record.id)
      })
    }
    const without = await run({})
    assert.equal(without.printed.filter((line) => /keyEncryptionKey/.test(line)).length, 1, without.printed.join('\n'))
    assert.match(without.printed.join('\n'), /No keyEncryptionKey or PIXSTORE_KEY_ENCRYPTION_KEY set: image keys are stored unwrapped/)
    assert.equal(without.result.length, 32)
    for (const withKek of [await run({ keyEncryptionKey: KEK_A }), await run({}, { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_B })]) {
      assert.deepEqual(withKek.printed, [])
      assert.equal(withKek.result.length, 69, 'stored wrapped')
    }
  })

  it('hides the KEK as it hides the proof secret: "[redacted]" in backend.config, absent from inspect and JSON', async () => {
    const store = await testStore('sqlite', cleanups)
    const backend = new PixstoreBackend({ ...store.config, statelessProofSecret: TEST_SECRET, keyEncryptionKey: KEK_B, previousKeyEncryptionKeys: [KEK_A] }, { env: {} })
    try {
      assert.equal(backend.config.keyEncryptionKey, '[redacted]')
      assert.deepEqual(backend.config.previousKeyEncryptionKeys, ['[redacted]'])
      for (const printed of [inspect(backend, { depth: 10, showHidden: true }), JSON.stringify(backend), inspect(backend.config), JSON.stringify(backend.config)]) {
        for (const secret of [KEK_A, KEK_B, Buffer.from(KEK_B, 'hex').toString('base64'), Buffer.from(KEK_A, 'base64').toString('hex')]) assert.ok(!printed.includes(secret))
      }
      const record = (await backend.saveImage(IMAGES[0]!))!
      assert.equal((await store.readKey(record.id)).length, 69, 'the hidden KEK still wraps')
    } finally {
      await backend.close()
    }
  })

  it('refuses a bad PIXSTORE_KEY_ENCRYPTION_KEY or PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS naming the field and the variable, never the value', async () => {
    const store = await testStore('sqlite', cleanups)
    const bad = 'not-a-key-encryption-key-but-a-secret'
    for (const [env, field] of [[{ PIXSTORE_KEY_ENCRYPTION_KEY: bad }, 'keyEncryptionKey'], [{ PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A, PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS: `${KEK_B},${bad}` }, 'previousKeyEncryptionKeys']] as const) {
      assert.throws(
        () => new PixstoreBackend({ ...store.config, statelessProofSecret: TEST_SECRET }, { env }),
        (error: unknown) => error instanceof PixstoreConfigError && error.message.includes(`"${field}"`) && /PIXSTORE_/.test(error.message) && !error.message.includes(bad),
      )
    }
  })
})
