import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { PixstoreState } from '../protocol/wire'
import { decodeImageMeta, type ImageRecord } from '../protocol/record'
import { PixstoreBackend } from '../server/backend'
import { decryptImage } from '../server/crypto'
import { fixtureImages, readFixture, storeConfig, TEST_SECRET } from '../testing/testSupport'
import { sharedPostgresCluster } from '../testing/postgresCluster'
import { migrateStore, progressPrinter, type MigrateProgress, type StoreLocation } from './migrate'

const images = [...fixtureImages('png'), ...fixtureImages('jpg'), ...fixtureImages('gif'), ...fixtureImages('webp')].map(readFixture)

/** Every record must still work on `location`: same token, and the same bytes after decrypting with the record's key. */
async function assertRecordsValid(location: StoreLocation, records: Map<ImageRecord, Buffer>): Promise<void> {
  const backend = new PixstoreBackend({ ...location, statelessProofSecret: TEST_SECRET }, { env: {} })
  try {
    for (const [record, image] of records) {
      const wire = await backend.customEndpointHelper(record.id, String(record.token), record.statelessProof)
      assert.equal(wire[0], PixstoreState.Success, `${record.id}: the old record's token is current`)
      const fresh = (await backend.getImageRecord(record.id))!
      assert.deepEqual(fresh.meta, record.meta, `${record.id}: same key`)
      assert.equal(fresh.token, record.token)
      assert.deepEqual(decryptImage(wire.subarray(1), decodeImageMeta(record.meta)).subarray(1), image)
    }
  } finally {
    await backend.close()
  }
}

describe('migrateStore', () => {
  let sqlite: StoreLocation
  let postgres: StoreLocation
  const cleanups: (() => void)[] = []
  const records = new Map<ImageRecord, Buffer>()
  before(async () => {
    const source = await storeConfig('sqlite')
    cleanups.push(source.cleanup)
    sqlite = source.config
    const cluster = await sharedPostgresCluster()
    postgres = { databaseUrl: await cluster.createDatabase() }
    const backend = new PixstoreBackend({ ...sqlite, statelessProofSecret: TEST_SECRET }, { env: {} })
    for (let i = 0; i < 25; i++) {
      const record = (await backend.saveImage(images[i % images.length]!, i % 4 === 0 ? 'album' : undefined))!
      records.set(record, images[i % images.length]!)
    }
    // An updated image: its token is no longer its creation time.
    const [first] = records.keys()
    records.delete(first!)
    const updated = (await backend.updateImage(first!.id, images[1]!))!
    records.set(updated, images[1]!)
    await backend.close()
  })
  after(() => cleanups.forEach((cleanup) => cleanup()))

  it('copies SQLite to PostgreSQL, resumes after an interruption, and every record stays valid', async () => {
    const controller = new AbortController()
    const seen: MigrateProgress[] = []
    await assert.rejects(
      migrateStore({ from: sqlite, to: postgres, signal: controller.signal, onProgress: (p) => (seen.push(p), p.done === 10 && controller.abort()) }),
      { name: 'AbortError' },
    )
    assert.equal(seen.at(-1)!.copied, 10)
    const resumed = await migrateStore({ from: sqlite, to: postgres })
    assert.deepEqual(resumed, { copied: 15, skipped: 10, verified: 25 })
    await assertRecordsValid(postgres, records)
    assert.deepEqual(await migrateStore({ from: sqlite, to: postgres }), { copied: 0, skipped: 25, verified: 25 }, 'a rerun copies nothing')
  })

  it('resumes after the migrating process is killed (SIGKILL) mid-copy', async () => {
    const target = { databaseUrl: await (await sharedPostgresCluster()).createDatabase() }
    // A separate process we kill without warning. After its 8th image it stops dead (stdout to a pipe is
    // synchronous on Linux, then the thread blocks), so the kill lands mid-run however slowly we read its output.
    const script = `import { migrateStore } from ${JSON.stringify(fileURLToPath(new URL('./migrate.ts', import.meta.url)))}
      const stop = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
      await migrateStore({ from: JSON.parse(process.argv[1]), to: JSON.parse(process.argv[2]), onProgress: (p) => (console.log('done', p.done), p.done === 8 && stop()) })`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify(sqlite), JSON.stringify(target)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
    child.stdout!.on('data', (chunk) => {
      output += chunk
      if (/done 8\n/.test(output)) child.kill('SIGKILL')
    })
    assert.equal(await exited, 'SIGKILL', 'the child was killed before it finished')
    const resumed = await migrateStore({ from: sqlite, to: target })
    assert.equal(resumed.verified, 25)
    assert.ok(resumed.skipped >= 8 && resumed.skipped < 25, `skipped ${resumed.skipped}: what the killed run had committed`)
    assert.equal(resumed.copied + resumed.skipped, 25)
    await assertRecordsValid(target, records)
  })

  it('copies an image again when the source has a newer version', async () => {
    const backend = new PixstoreBackend({ ...sqlite, statelessProofSecret: TEST_SECRET }, { env: {} })
    const old = [...records.keys()][0]!
    records.delete(old)
    const newer = (await backend.updateImage(old.id, images[2]!))!
    records.set(newer, images[2]!)
    await backend.close()
    assert.deepEqual(await migrateStore({ from: sqlite, to: postgres }), { copied: 1, skipped: 24, verified: 25 })
    await assertRecordsValid(postgres, records)
  })

  it('copies PostgreSQL back to SQLite + files', async () => {
    const back = await storeConfig('sqlite')
    cleanups.push(back.cleanup)
    const lines: string[] = []
    const display = progressPrinter({ isTTY: false, write: (line: string) => lines.push(line) } as unknown as NodeJS.WriteStream, 10)
    assert.deepEqual(await migrateStore({ from: postgres, to: back.config, onProgress: display }), { copied: 25, skipped: 0, verified: 25 })
    assert.deepEqual(lines, ['migrate: 10 images (10 copied, 0 already there)\n', 'migrate: 20 images (20 copied, 0 already there)\n'])
    await assertRecordsValid(back.config, records)
  })

  it('stops at a copy that does not decrypt', async () => {
    const cluster = await sharedPostgresCluster()
    const victim = [...records.keys()][0]!
    // Damage the copy in place, keeping its token, as a broken disk or a bad manual edit would.
    await cluster.admin("UPDATE pixstore_images SET ciphertext = overlay(ciphertext placing '\\x00' from 5) WHERE id = $1", new URL(postgres.databaseUrl!).pathname.slice(1), [victim.id])
    const fresh = await storeConfig('sqlite')
    cleanups.push(fresh.cleanup)
    await assert.rejects(migrateStore({ from: postgres, to: fresh.config }), new RegExp(`image ${victim.id} does not decrypt after copying`))
    await assert.rejects(migrateStore({ from: sqlite, to: postgres }), new RegExp(`image ${victim.id} was not copied intact`))
  })

  it('refuses the same store on both sides and a bad location, without printing passwords', async () => {
    await assert.rejects(migrateStore({ from: sqlite, to: sqlite }), /source and target are the same store/)
    await assert.rejects(migrateStore({ from: sqlite, to: { databaseUrl: 'mysql://u:pw-9@db/x' } }), (error: Error) => /--to: .*"databaseUrl"/.test(error.message) && !error.message.includes('pw-9'))
    await assert.rejects(migrateStore({ from: { databaseUrl: 'postgres://u:pw-9@db/x', databasePath: 'a' }, to: sqlite }), /--from: .*"databaseUrl".*"databasePath"/)
  })
})
