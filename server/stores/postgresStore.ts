import type pg from 'pg'
import { PixstoreError } from '../errors'
import { wholeCiphertext, type ImageStore, type NewImageVersion, type StoredCiphertext, type StoredImage } from './imageStore'
import { postgresPoolConfig, redactDatabaseUrl } from './databaseUrl'
import { migrate } from './migrations'

const META = 'id, token, key, iv, tag, format, size, created_at AS "createdAt", updated_at AS "updatedAt"'
const ID_PAGE_SIZE = 500
const INT8_OID = 20
/** Connections per instance: PostgreSQL's max_connections must cover every instance's pool. */
const POOL_SIZE = 10
/** How long a request waits for a connection before it fails (InternalError on the endpoint). */
const CONNECT_TIMEOUT_MS = 5000

/**
 * The PostgreSQL client, loaded on first use: `pg` is an optional peer
 * dependency, so an app on the SQLite store never installs or loads it.
 */
async function loadPg(): Promise<typeof pg> {
  try {
    return (await import('pg')).default
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new PixstoreError('databaseUrl is set, so Pixstore needs the PostgreSQL client package "pg": install it (npm install pg); only the SQLite store works without it', 'ERR_CONFIG', { cause: error })
  }
}

/** bigint columns as numbers: tokens and times are milliseconds, far below 2^53. */
const typesOf = (client: typeof pg) => ({
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? Number : client.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
})

/**
 * Images in PostgreSQL: one row per image holds its current version's meta
 * and ciphertext (`bytea`), so an update is one UPDATE and every reader gets
 * meta and bytes of the same version, on any number of instances.
 */
export class PostgresImageStore implements ImageStore {
  /** The URL without its password, for messages. */
  readonly location: string
  /** A real #private field: the URL holds the password, and util.inspect and JSON cannot reach it. */
  readonly #databaseUrl: string
  /** Made on first use (whenReady), once `pg` is loaded. */
  private pool!: pg.Pool
  private ready: Promise<void> | null = null
  private closed = false

  constructor(databaseUrl: string) {
    this.location = redactDatabaseUrl(databaseUrl)
    this.#databaseUrl = databaseUrl
  }

  private async createPool(): Promise<pg.Pool> {
    const client = await loadPg()
    const pool = new client.Pool({
      ...postgresPoolConfig(this.#databaseUrl),
      max: POOL_SIZE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      // A server that stops answering (network partition) fails requests instead of hanging them.
      query_timeout: 30_000,
      keepAlive: true,
      types: typesOf(client),
    })
    // An idle connection dropped by the server (restart, failover) must not crash
    // the process: the pool discards it and the next query opens a new one.
    pool.on('error', (error) => console.warn(`[pixstore] PostgreSQL connection lost (${this.location}): ${error.message}`))
    return pool
  }

  /** Connects and migrates the schema; a clear error when PostgreSQL cannot be reached. */
  open(): Promise<void> {
    return this.whenReady()
  }

  async get(id: string): Promise<StoredImage | null> {
    return this.one<StoredImage>(`SELECT ${META} FROM pixstore_images WHERE id = $1`, [id])
  }

  async has(id: string): Promise<boolean> {
    return (await this.one('SELECT 1 FROM pixstore_images WHERE id = $1', [id])) !== null
  }

  async insert(id: string, version: NewImageVersion): Promise<StoredImage> {
    const values = await versionValues(version)
    const now = Date.now()
    const row = await this.one<StoredImage>(
      `INSERT INTO pixstore_images (id, token, key, iv, tag, format, size, ciphertext, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING ${META}`,
      [id, version.token ?? now, ...values, now],
    )
    return row!
  }

  /** One UPDATE: the row lock orders concurrent updates, so tokens stay strictly increasing across instances. */
  async replace(id: string, version: NewImageVersion): Promise<StoredImage | null> {
    const values = await versionValues(version)
    return this.one<StoredImage>(
      `UPDATE pixstore_images SET token = COALESCE($2::bigint, GREATEST($9::bigint, token + 1)),
         key = $3, iv = $4, tag = $5, format = $6, size = $7, ciphertext = $8, updated_at = $9
       WHERE id = $1 RETURNING ${META}`,
      [id, version.token ?? null, ...values, Date.now()],
    )
  }

  async delete(id: string): Promise<boolean> {
    return (await this.one('DELETE FROM pixstore_images WHERE id = $1 RETURNING 1', [id])) !== null
  }

  async replaceKey(id: string, token: number, expected: Uint8Array, key: Uint8Array): Promise<boolean> {
    return (await this.one('UPDATE pixstore_images SET key = $1 WHERE id = $2 AND token = $3 AND key = $4 RETURNING 1', [bytes(key), id, token, bytes(expected)])) !== null
  }

  async keyChecks(): Promise<Buffer[]> {
    await this.whenReady()
    const { rows } = await this.pool.query<{ wrapped: Buffer }>('SELECT wrapped FROM pixstore_key_checks ORDER BY n')
    return rows.map((row) => row.wrapped)
  }

  /** One statement either way, so `replace` is atomic without a transaction. */
  async writeKeyChecks(checks: readonly Uint8Array[], mode: 'add' | 'replace'): Promise<void> {
    const values = checks.map(bytes)
    const insert = 'INSERT INTO pixstore_key_checks (wrapped) SELECT unnest($1::bytea[])'
    await this.one(mode === 'add' ? insert : `WITH gone AS (DELETE FROM pixstore_key_checks) ${insert}`, [values])
  }

  async read(id: string): Promise<StoredCiphertext | null> {
    const row = await this.one<StoredImage & { ciphertext: Buffer }>(`SELECT ${META}, ciphertext FROM pixstore_images WHERE id = $1`, [id])
    if (!row) return null
    const { ciphertext, ...image } = row
    return { image, ciphertext }
  }

  async *ids(): AsyncIterable<string> {
    let after = ''
    for (;;) {
      await this.whenReady()
      const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM pixstore_images WHERE id > $1 ORDER BY id LIMIT $2', [after, ID_PAGE_SIZE])
      for (const { id } of rows) yield id
      if (rows.length < ID_PAGE_SIZE) return
      after = rows[rows.length - 1]!.id
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.ready?.catch(() => {}) // a pool being made now is ended too
    await this.pool?.end()
  }

  private async one<T extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<T | null> {
    await this.whenReady()
    const { rows } = await this.pool.query<T>(sql, values)
    return rows[0] ?? null
  }

  /**
   * Migrates once, on first use (open() or any call on a store nobody opened).
   * A failure is not remembered: the next call tries again.
   */
  private whenReady(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The PostgreSQL image store is closed'))
    this.ready ??= (async () => {
      this.pool ??= await this.createPool()
      await migrate(this.pool)
    })().then(
      () => undefined,
      (error: unknown) => {
        this.ready = null
        if (error instanceof PixstoreError) throw error // pg is not installed: the message says so
        throw new Error(`Cannot open the PostgreSQL image store at ${this.location}: ${(error as Error).message}`, { cause: error })
      },
    )
    return this.ready
  }
}

/** The version's columns in the order both writes bind them: key, iv, tag, format, size, ciphertext. */
const bytes = (view: Uint8Array) => Buffer.from(view.buffer, view.byteOffset, view.byteLength)

async function versionValues(version: NewImageVersion): Promise<unknown[]> {
  const ciphertext = bytes(wholeCiphertext(version)) // first: the tag is known once the ciphertext is
  await version.validate?.()
  return [bytes(version.meta.key), bytes(version.meta.iv), bytes(version.meta.tag), version.format, version.size, ciphertext]
}
