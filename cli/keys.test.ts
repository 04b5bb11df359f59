// The pixstore command with a key encryption key: rekey, and import, import-v3, verify and migrate on wrapped keys.
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { decodeImageMeta, type ImageRecord } from '../protocol/record'
import { PixstoreState } from '../protocol/wire'
import { PixstoreBackend } from '../server/backend'
import { resolveConfig, type PixstoreConfig } from '../server/config'
import { createPixstoreApp } from '../server/http/koaMiddleware'
import { KeyRing } from '../server/keys/keyRing'
import { rekeyImage } from '../server/keys/rekey'
import { openImageStore } from '../server/stores/openImageStore'
import { fetchWire, fixtureImages, openPayload, proofHeaders, readFixture, serve, storeConfig, tempStore, TEST_SECRET } from '../testing/testSupport'
import { pixstore } from '../testing/pixstoreCli'
import { writePixstore3Store, type V3Record } from '../testing/pixstoreV3'
import { assertRecordsValidOn, backendWithKeys } from '../testing/recordChecks'

const KEK_A = randomBytes(32).toString('base64')
const KEK_B = randomBytes(32).toString('hex')
const IMAGES = [...fixtureImages('png'), ...fixtureImages('jpg'), ...fixtureImages('gif')]

/** A SQLite store the command and the test share. */
function sqliteStore() {
  const temp = tempStore()
  return { ...temp, flags: ['--image-root-dir', temp.config.imageRootDir, '--database-path', temp.config.databasePath] }
}

/** Stored key per id, straight from the SQLite file. */
function storedKeys(databasePath: string): Map<string, Buffer> {
  const db = new Database(databasePath, { readonly: true })
  try {
    return new Map(db.prepare<[], { id: string; key: Buffer }>('SELECT id, key FROM pixstore_images ORDER BY id').all().map((row) => [row.id, row.key]))
  } finally {
    db.close()
  }
}

/** Saves every fixture image without a KEK: a store as it was before key wrapping. */
async function rawStore(config: Partial<PixstoreConfig>, count = IMAGES.length): Promise<Map<ImageRecord, Buffer>> {
  const backend = new PixstoreBackend({ ...config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'throw' }, { env: {} })
  const records = new Map<ImageRecord, Buffer>()
  const { warn } = console
  console.warn = () => {} // the expected "no keyEncryptionKey" warning
  try {
    for (const file of IMAGES.slice(0, count)) records.set((await backend.saveImage(readFixture(file)))!, readFixture(file))
  } finally {
    console.warn = warn
    await backend.close()
  }
  return records
}

describe('pixstore rekey', () => {
  it('needs a KEK from the environment (never a flag), exit 2', async () => {
    const store = sqliteStore()
    try {
      const run = await pixstore(['rekey', ...store.flags])
      assert.equal(run.code, 2, run.stderr)
      assert.match(run.stderr, /rekey needs the key encryption key .*PIXSTORE_KEY_ENCRYPTION_KEY \(config field "keyEncryptionKey"\)/)
      const flag = await pixstore(['rekey', '--key-encryption-key', KEK_A, ...store.flags])
      assert.equal(flag.code, 2)
      assert.match(flag.stderr, /unknown option '--key-encryption-key'/)
      const bad = await pixstore(['rekey', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: 'not-a-key-encryption-key-0123456789' })
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /"keyEncryptionKey".*\(from PIXSTORE_KEY_ENCRYPTION_KEY\)/)
      assert.ok(!bad.stderr.includes('not-a-key-encryption-key'), 'the value is never printed')
    } finally {
      store.cleanup()
    }
  })

  it('wraps every raw key of an old store with progress on stderr; the same records decrypt; a second run has nothing left (--json)', async () => {
    const store = sqliteStore()
    try {
      const records = await rawStore(store.config)
      const run = await pixstore(['rekey', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A })
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, new RegExp(`Rekeyed: ${records.size} rewrapped, 0 already current, 0 failed\\.`))
      for (const record of records.keys()) assert.match(run.stderr, new RegExp(`\\[\\d+/${records.size}\\] ${record.id}: rewrapped`))
      for (const [id, key] of storedKeys(store.config.databasePath)) assert.equal(key.length, 69, `${id} stored wrapped`)

      const again = await pixstore(['rekey', '--json', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A })
      assert.equal(again.code, 0, again.stderr)
      const lines = again.stdout.trim().split('\n').map((line) => JSON.parse(line))
      assert.deepEqual(lines.map((line) => line.id).sort(), [...records.keys()].map((record) => record.id).sort())
      assert.ok(lines.every((line) => line.status === 'already current'), again.stdout)

      await assertRecordsValidOn(store.config, records, KEK_A)
      const without = await pixstore(['verify', ...store.flags])
      assert.equal(without.code, 2)
      assert.match(without.stderr, /This store holds wrapped image keys: set config field "keyEncryptionKey"/)
    } finally {
      store.cleanup()
    }
  })

  it('resumes: after an interrupted run (SIGKILL) and a partial one, running again does only what is left', async () => {
    const store = sqliteStore()
    try {
      const records = await rawStore(store.config)
      const ids = [...records.keys()].map((record) => record.id).sort()
      // Two keys rewrapped by an earlier run that stopped there.
      const partial = openImageStore(resolveConfig(store.config, {}))
      await partial.open()
      const keys = new KeyRing(KEK_A)
      for (const id of ids.slice(0, 2)) assert.equal(await rekeyImage(partial, keys, id), 'rewrapped')
      await partial.close()
      const resumed = await pixstore(['rekey', '--json', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A })
      assert.equal(resumed.code, 0, resumed.stderr)
      const status = new Map(resumed.stdout.trim().split('\n').map((line) => JSON.parse(line)).map((line) => [line.id, line.status]))
      assert.deepEqual([...status.keys()].sort(), ids)
      for (const id of ids) assert.equal(status.get(id), ids.indexOf(id) < 2 ? 'already current' : 'rewrapped', id)

      // A rotation killed after the first image it reported: the rerun finishes it, and that image is not done twice.
      let killedAfter = ''
      const rotate = { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_B, PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS: KEK_A }
      await pixstore(['rekey', '--json', ...store.flags], rotate, (stdout, child) => {
        if (!killedAfter && stdout.includes('\n')) {
          killedAfter = JSON.parse(stdout.split('\n')[0]!).id
          child.kill('SIGKILL')
        }
      })
      assert.ok(ids.includes(killedAfter))
      const rerun = await pixstore(['rekey', '--json', ...store.flags], rotate)
      assert.equal(rerun.code, 0, rerun.stderr)
      const rerunStatus = new Map(rerun.stdout.trim().split('\n').map((line) => JSON.parse(line)).map((line) => [line.id, line.status]))
      assert.deepEqual([...rerunStatus.keys()].sort(), ids)
      assert.equal(rerunStatus.get(killedAfter), 'already current')
      assert.ok([...rerunStatus.values()].every((value) => value === 'rewrapped' || value === 'already current'))
      for (const [id, key] of storedKeys(store.config.databasePath)) assert.equal(key.length, 69, `${id} stored wrapped`)
      await assertRecordsValidOn(store.config, records, KEK_B)
    } finally {
      store.cleanup()
    }
  })

  it('moves keys to a new KEK with the old one in PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS; then the new one alone opens the store', async () => {
    const store = sqliteStore()
    try {
      const records = await rawStore(store.config, 3)
      assert.equal((await pixstore(['rekey', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A })).code, 0)
      const refused = await pixstore(['rekey', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_B })
      assert.equal(refused.code, 2)
      assert.match(refused.stderr, /"keyEncryptionKey" does not open this store/)
      const run = await pixstore(['rekey', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_B, PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS: KEK_A })
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /Rekeyed: 3 rewrapped, 0 already current, 0 failed\./)
      const verify = await pixstore(['verify', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_B })
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)
      assert.match(verify.stdout, /Verified 3 images: 3 ok, 0 failed\./)
      await assertRecordsValidOn(store.config, records, KEK_B)
    } finally {
      store.cleanup()
    }
  })

  it('prints its help', async () => {
    const run = await pixstore(['rekey', '--help'])
    assert.equal(run.code, 0)
    assert.match(run.stdout, /Usage: pixstore rekey/)
    assert.match(run.stdout, /--json/)
    assert.match(run.stdout, /PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS/)
  })
})

describe('import, import-v3, verify and migrate with a KEK', () => {
  const cleanups: (() => void)[] = []
  after(() => cleanups.forEach((cleanup) => cleanup()))

  it('import stores every key wrapped, and verify decrypts them with the KEK', async () => {
    const store = sqliteStore()
    cleanups.push(store.cleanup)
    const run = await pixstore(['import', ...IMAGES, '--json', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A })
    assert.equal(run.code, 0, run.stderr)
    assert.ok(!run.stderr.includes('keyEncryptionKey'), 'no warning with a KEK')
    const keys = storedKeys(store.config.databasePath)
    assert.equal(keys.size, IMAGES.length)
    for (const [id, key] of keys) assert.equal(key.length, 69, `${id} stored wrapped`)
    const verify = await pixstore(['verify', ...store.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A })
    assert.equal(verify.code, 0, verify.stdout)
    assert.match(verify.stdout, new RegExp(`Verified ${IMAGES.length} images: ${IMAGES.length} ok, 0 failed\\.`))
  })

  describe('import-v3', () => {
    const v3 = tempStore()
    const v3Records: V3Record[] = []
    before(async () => {
      v3Records.push(...(await writePixstore3Store(v3.config, [...fixtureImages('png'), ...fixtureImages('jpg'), ...fixtureImages('webp')])))
    })
    after(v3.cleanup)

    it('stores the raw 3.x keys wrapped; records apps hold from 3.x still decrypt', async () => {
      const target = sqliteStore()
      cleanups.push(target.cleanup)
      const run = await pixstore(['import-v3', '--database', v3.config.databasePath, '--images', v3.config.imageRootDir, ...target.flags], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_B })
      assert.equal(run.code, 0, run.stdout + run.stderr)
      const keys = storedKeys(target.config.databasePath)
      assert.equal(keys.size, v3Records.length)
      for (const old of v3Records) {
        const stored = keys.get(old.id)!
        assert.equal(stored.length, 69, `${old.id} stored wrapped`)
        assert.ok(!stored.includes(Buffer.from(decodeImageMeta(old.meta).key)), 'not the raw 3.x key')
      }
      await assertRecordsValidOn(target.config, new Map(v3Records.map((old) => [{ ...old, statelessProof: '' }, readFixture(old.file)])), KEK_B)
    })
  })

  it('migrate wraps raw keys for the target with PIXSTORE_KEY_ENCRYPTION_KEY, rewraps under a new KEK, and refuses a wrapped source without its KEK', async () => {
    const source = sqliteStore()
    cleanups.push(source.cleanup)
    const records = await rawStore(source.config, 4)
    const postgres = await storeConfig('postgres')
    const toPostgres = ['--from-database-path', source.config.databasePath, '--from-image-root-dir', source.config.imageRootDir, '--to-database-url', postgres.config.databaseUrl!]
    const run = await pixstore(['migrate', ...toPostgres], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_A })
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /Migrated: 4 copied, 0 already there, 4 verified\./)
    const target = openImageStore(resolveConfig(postgres.config, {}))
    try {
      for (const record of records.keys()) assert.equal((await target.get(record.id))!.key.length, 69, `${record.id} wrapped in PostgreSQL`)
    } finally {
      await target.close()
    }
    await assertRecordsValidOn(postgres.config, records, KEK_A)

    // Back to SQLite under a new KEK: unwrapped with the old one, wrapped with the new one.
    const back = sqliteStore()
    cleanups.push(back.cleanup)
    const fromPostgres = ['--from-database-url', postgres.config.databaseUrl!, '--to-database-path', back.config.databasePath, '--to-image-root-dir', back.config.imageRootDir]
    const refused = await pixstore(['migrate', ...fromPostgres])
    assert.equal(refused.code, 2, refused.stdout + refused.stderr)
    assert.match(refused.stderr, /This store holds wrapped image keys: set config field "keyEncryptionKey"/)
    const moved = await pixstore(['migrate', ...fromPostgres], { PIXSTORE_KEY_ENCRYPTION_KEY: KEK_B, PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS: KEK_A })
    assert.equal(moved.code, 0, moved.stdout + moved.stderr)
    assert.match(moved.stdout, /Migrated: 4 copied, 0 already there, 4 verified\./)
    await assert.rejects(backendWithKeys(back.config, KEK_A).open(), /"keyEncryptionKey" does not open this store/, 'the target holds keys under the new KEK only')
    await assertRecordsValidOn(back.config, records, KEK_B)
  })
})

describe('pixstore with no KEK', () => {
  it('import works as before: raw keys, one warning on stderr', async () => {
    const store = sqliteStore()
    try {
      const run = await pixstore(['import', IMAGES[0]!, ...store.flags])
      assert.equal(run.code, 0, run.stderr)
      assert.equal(run.stderr.match(/No keyEncryptionKey or PIXSTORE_KEY_ENCRYPTION_KEY set/g)?.length, 1)
      for (const key of storedKeys(store.config.databasePath).values()) assert.equal(key.length, 32)
    } finally {
      store.cleanup()
    }
  })
})
