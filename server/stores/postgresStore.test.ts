// PostgreSQL-only behaviour: migrations across instances, outages, and the password staying secret.
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { PixstoreState } from '../../protocol/wire'
import { freePort } from '../../testing/freePort'
import { PostgresCluster, sharedPostgresCluster } from '../../testing/postgresCluster'
import { PixstoreBackend } from '../backend'
import { createPixstoreApp } from '../http/koaMiddleware'
import { initPixstoreBackend } from '../index'
import { fetchWire, fixtureImages, proofHeaders, readFixture, serve, TEST_SECRET } from '../../testing/testSupport'
import { postgresPoolConfig } from './databaseUrl'
import { migrate, MIGRATIONS } from './migrations'
import { PostgresImageStore } from './postgresStore'

/** Runs `action` with console.error/warn captured; returns what they printed. */
async function capturingConsole<T>(action: () => Promise<T>): Promise<{ result: T; printed: string }> {
  const { error, warn } = console
  const lines: string[] = []
  console.error = console.warn = (...args: unknown[]) => void lines.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 5 }))).join(' '))
  try {
    return { result: await action(), printed: lines.join('\n') }
  } finally {
    Object.assign(console, { error, warn })
  }
}

describe('migrations', () => {
  let cluster: PostgresCluster
  before(async () => void (cluster = await sharedPostgresCluster()))

  it('N instances starting together migrate once', async () => {
    const url = await cluster.createDatabase()
    const stores = Array.from({ length: 6 }, () => new PostgresImageStore(url))
    try {
      await Promise.all(stores.map((store) => store.open()))
      const rows = await cluster.admin<{ version: number }>('SELECT version FROM pixstore_schema_migrations', new URL(url).pathname.slice(1))
      assert.deepEqual(rows.map((row) => row.version), MIGRATIONS.map((m) => m.version))
    } finally {
      await Promise.all(stores.map((store) => store.close()))
    }
  })

  it('applies a new version exactly once while several instances upgrade at the same moment', async () => {
    const url = await cluster.createDatabase()
    const newest = Math.max(...MIGRATIONS.map((m) => m.version))
    const next = { version: newest + 1, name: 'marker', sql: 'CREATE TABLE upgrade_marker (n integer); INSERT INTO upgrade_marker VALUES (1);' }
    const pools = Array.from({ length: 5 }, () => new pg.Pool(postgresPoolConfig(url)))
    try {
      await migrate(pools[0]!)
      const applied = await Promise.all(pools.map((pool) => migrate(pool, [...MIGRATIONS, next])))
      assert.deepEqual(applied.flat(), [newest + 1], 'one instance applied the new version, the others found nothing to do')
      const [{ count }] = (await pools[0]!.query('SELECT count(*)::int AS count FROM upgrade_marker')).rows
      assert.equal(count, 1)
    } finally {
      await Promise.all(pools.map((pool) => pool.end()))
    }
  })

  it('version 2 lets a database of raw keys take wrapped ones (32 to 1024 bytes) and key checks', async () => {
    const url = await cluster.createDatabase()
    const database = new URL(url).pathname.slice(1)
    const pool = new pg.Pool(postgresPoolConfig(url))
    try {
      await migrate(pool, MIGRATIONS.filter((m) => m.version === 1))
      const insert = "INSERT INTO pixstore_images VALUES ('old', 1, $1, $2, $3, 1, 1, '\\x00', 1, 1)"
      await pool.query(insert, [Buffer.alloc(32, 1), Buffer.alloc(12), Buffer.alloc(16)])
      await assert.rejects(pool.query('UPDATE pixstore_images SET key = $1', [Buffer.alloc(69)]), /pixstore_images_key_check/, 'version 1 takes raw keys only')
    } finally {
      await pool.end()
    }
    const store = new PostgresImageStore(url)
    try {
      await store.open()
      assert.deepEqual((await store.get('old'))!.key, Buffer.alloc(32, 1), 'the raw key is kept')
      assert.equal(await store.replaceKey('old', 1, Buffer.alloc(32, 1), Buffer.alloc(69, 2)), true)
      assert.deepEqual((await store.get('old'))!.key, Buffer.alloc(69, 2))
      assert.equal(await store.replaceKey('old', 1, Buffer.alloc(32, 1), Buffer.alloc(69, 3)), false, 'only when the row still holds what was read')
      for (const length of [31, 1025]) await assert.rejects(store.replaceKey('old', 1, Buffer.alloc(69, 2), Buffer.alloc(length)), /pixstore_images_key_check/)
      await store.writeKeyChecks([Buffer.from('a'), Buffer.from('b')], 'add')
      await store.writeKeyChecks([Buffer.from('c')], 'add')
      assert.deepEqual((await store.keyChecks()).map(String), ['a', 'b', 'c'])
      await store.writeKeyChecks([Buffer.from('d')], 'replace')
      assert.deepEqual((await store.keyChecks()).map(String), ['d'])
      const versions = await cluster.admin<{ version: number }>('SELECT version FROM pixstore_schema_migrations ORDER BY version', database)
      assert.deepEqual(versions.map((row) => row.version), [1, 2])
    } finally {
      await store.close()
    }
  })

  it('refuses a database migrated by a newer Pixstore', async () => {
    const url = await cluster.createDatabase()
    const store = new PostgresImageStore(url)
    try {
      await store.open()
      await cluster.admin("INSERT INTO pixstore_schema_migrations (version, name) VALUES (99, 'future')", new URL(url).pathname.slice(1))
      const fresh = new PostgresImageStore(url)
      const newest = Math.max(...MIGRATIONS.map((m) => m.version))
      await assert.rejects(fresh.open(), new RegExp(`schema is at version 99, newer than this Pixstore knows \\(${newest}\\): upgrade Pixstore`))
      await fresh.close()
    } finally {
      await store.close()
    }
  })
})

describe('PostgreSQL unreachable or refusing at init', () => {
  it('fails initPixstoreBackend with a clear error that names the server but not the password', async () => {
    const port = await freePort()
    const url = `postgres://pixstore:hunter2-secret-pw@127.0.0.1:${port}/pixstore`
    const { printed } = await capturingConsole(async () => {
      const error = await initPixstoreBackend({ databaseUrl: url, defaultEndpointListenPort: 0, statelessProofSecret: TEST_SECRET }).then(
        () => assert.fail('init succeeded without a database'),
        (e: Error) => e,
      )
      assert.match(error.message, new RegExp(`Cannot open the PostgreSQL image store at postgres://pixstore:\\*\\*\\*@127\\.0\\.0\\.1:${port}/pixstore: .*ECONNREFUSED`))
      assert.doesNotMatch(inspect(error, { depth: 10 }), /hunter2/)
    })
    assert.doesNotMatch(printed, /hunter2/)
    // Init cleaned up after itself: a working init is possible right after.
    const cluster = await sharedPostgresCluster()
    const handle = await initPixstoreBackend({ databaseUrl: await cluster.createDatabase(), defaultEndpointListenHost: '127.0.0.1', defaultEndpointListenPort: 0, statelessProofSecret: TEST_SECRET })
    await handle.close()
  })

  it('a backend nobody opened answers InternalError while the database is unreachable (no unhandled rejection)', async () => {
    const cluster = await sharedPostgresCluster()
    const port = await freePort()
    const url = new URL(await cluster.createDatabase())
    url.port = String(port) // nothing listens here
    const backend = new PixstoreBackend({ databaseUrl: url.toString(), statelessProofSecret: TEST_SECRET, errorHandlingMode: 'silent' })
    try {
      const { printed } = await capturingConsole(async () => {
        assert.deepEqual(await backend.customEndpointHelper('some-id', null, backend.createStatelessProof('some-id')), Uint8Array.of(PixstoreState.InternalError))
      })
      assert.match(printed, /ECONNREFUSED/)
      assert.equal(await backend.imageExists('some-id'), null, 'silent mode: the outage gives null, not a throw')
    } finally {
      await backend.close()
    }
  })

  it('reports a wrong password without printing either password', async () => {
    const cluster = await sharedPostgresCluster()
    const good = new URL(await cluster.createDatabase())
    const realPassword = good.password
    good.password = 'wrong-password-123'
    const store = new PostgresImageStore(good.toString())
    const error = await store.open().then(() => assert.fail('opened with a wrong password'), (e: Error) => e)
    await store.close()
    assert.match(error.message, /password authentication failed/)
    assert.doesNotMatch(inspect(error, { depth: 10 }), new RegExp(`wrong-password-123|${realPassword}`))
  })
})

describe('the database password is never printed', () => {
  it('is absent from util.inspect and JSON of the backend, its config and its store', async () => {
    const cluster = await sharedPostgresCluster()
    const url = await cluster.createDatabase()
    const password = new URL(url).password
    const backend = new PixstoreBackend({ databaseUrl: url, statelessProofSecret: TEST_SECRET })
    try {
      await backend.open()
      await backend.saveImage(readFixture(fixtureImages('png')[0]!))
      for (const text of [inspect(backend, { depth: 20, showHidden: false }), JSON.stringify(backend.config), String(backend.config.databaseUrl && inspect(backend.config))]) {
        assert.doesNotMatch(text, new RegExp(password))
      }
      assert.match(inspect(backend.config), /postgres:\/\/pixstore:\*\*\*@127\.0\.0\.1/)
      assert.equal(backend.config.databaseUrl, url, 'the value itself is intact for the code that needs it')
    } finally {
      await backend.close()
    }
  })
})

describe('the password from PGPASSWORD', () => {
  it('connects with a URL that carries no password', async () => {
    const cluster = await sharedPostgresCluster()
    const url = new URL(await cluster.createDatabase())
    const password = url.password
    url.password = ''
    const saved = process.env.PGPASSWORD
    process.env.PGPASSWORD = password
    const store = new PostgresImageStore(url.toString())
    try {
      await store.open()
      assert.equal(await store.has('anything'), false)
    } finally {
      await store.close()
      if (saved === undefined) delete process.env.PGPASSWORD
      else process.env.PGPASSWORD = saved
    }
  })
})

describe('PostgreSQL restarted while serving', () => {
  let cluster: PostgresCluster
  before(async () => void (cluster = await PostgresCluster.start()))
  after(async () => cluster.stop())

  it('answers InternalError during the outage, without crashing, logs it once (not per request), and serves again once it is back', async () => {
    const url = await cluster.createDatabase()
    const backend = new PixstoreBackend({ databaseUrl: url, statelessProofSecret: TEST_SECRET })
    await backend.open()
    const site = await serve(createPixstoreApp(backend))
    try {
      const record = (await backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      // Fill the pool with idle connections that the restart will break.
      await Promise.all(Array.from({ length: 8 }, () => fetchWire(site.url, record.id, proofHeaders(record))))
      const { printed } = await capturingConsole(async () => {
        await cluster.stopServer()
        // Let the pool see its idle connections die (the 'error' events that would crash an unprepared process).
        await new Promise((resolve) => setTimeout(resolve, 200))
        for (let i = 0; i < 40; i++) {
          const { response, payload } = await fetchWire(site.url, record.id, proofHeaders(record))
          assert.equal(response.status, 200)
          assert.equal(payload.state, PixstoreState.InternalError)
        }
        await cluster.startServer()
        // Back: normal answers from the same process and the same backend.
        const { payload } = await fetchWire(site.url, record.id, proofHeaders(record))
        assert.equal(payload.state, PixstoreState.Success)
      })
      // One line when the outage starts and one when it ends, not a stack trace per failed request.
      const endpointLines = printed.split('\n').filter((line) => /endpoint failure|answers again/.test(line))
      assert.equal(endpointLines.length, 2, printed)
      assert.match(endpointLines[0]!, /endpoint failure/)
      assert.match(endpointLines[1]!, /answers again; 40 requests failed meanwhile/)
      assert.doesNotMatch(printed, /^\s+at /m, 'no stack trace')
      assert.doesNotMatch(printed, new RegExp(new URL(url).password))
      const newer = (await backend.updateImage(record.id, readFixture(fixtureImages('jpg')[0]!)))!
      assert.equal((await fetchWire(site.url, record.id, proofHeaders(newer))).payload.state, PixstoreState.Success)
    } finally {
      await site.close()
      await backend.close()
    }
  })

  it('a backend created during an outage and never opened migrates and serves once the database is up', async () => {
    const url = await cluster.createDatabase()
    await cluster.stopServer()
    const backend = new PixstoreBackend({ databaseUrl: url, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'silent' })
    try {
      await capturingConsole(async () => {
        assert.equal((await backend.customEndpointHelper('x', null, backend.createStatelessProof('x')))[0], PixstoreState.InternalError)
      })
      await cluster.startServer()
      const record = (await backend.saveImage(readFixture(fixtureImages('gif')[0]!)))!
      assert.ok(record, String(backend.lastError))
      assert.equal((await backend.customEndpointHelper(record.id, String(record.token), record.statelessProof))[0], PixstoreState.Success)
    } finally {
      await backend.close()
    }
  })
})
