import type pg from 'pg'

/** One schema step. Versions are applied in order, each exactly once per database. */
export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'images with their current version',
    // One row per image: meta and ciphertext of its current version together,
    // so switching versions is one UPDATE and a reader never sees meta without its bytes.
    sql: `CREATE TABLE pixstore_images (
      id text COLLATE "C" PRIMARY KEY,
      token bigint NOT NULL,
      key bytea NOT NULL CHECK (octet_length(key) = 32),
      iv bytea NOT NULL CHECK (octet_length(iv) = 12),
      tag bytea NOT NULL CHECK (octet_length(tag) = 16),
      format smallint NOT NULL,
      size bigint NOT NULL,
      ciphertext bytea NOT NULL,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    -- Ciphertext does not compress: store it out of line without trying.
    ALTER TABLE pixstore_images ALTER COLUMN ciphertext SET STORAGE EXTERNAL;`,
  },
  {
    version: 2,
    name: 'wrapped image keys and key checks',
    // A key is raw (32 bytes) or wrapped by a key encryption key (longer; keys/keyWrapping.ts).
    sql: `ALTER TABLE pixstore_images DROP CONSTRAINT pixstore_images_key_check;
    ALTER TABLE pixstore_images ADD CONSTRAINT pixstore_images_key_check CHECK (octet_length(key) BETWEEN 32 AND 1024);
    CREATE TABLE pixstore_key_checks (n bigserial PRIMARY KEY, wrapped bytea NOT NULL);`,
  },
]

/** Any fixed pair works; this one is Pixstore's (port 7482, lock 1) so other apps' advisory locks do not collide. */
const LOCK_KEY = [7482, 1] as const

/**
 * Brings the schema up to the newest version in one transaction under an
 * advisory lock: instances starting together wait for the first one, then
 * find nothing left to do. Refuses a database migrated by a newer Pixstore.
 * Returns the versions it applied.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect()
  // A checked-out client has no pool listener: a connection lost between two
  // statements would otherwise be an uncaught 'error' event. The next query fails instead.
  let failed = false
  const onError = () => void (failed = true)
  client.on('error', onError)
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...LOCK_KEY])
    await client.query(`CREATE TABLE IF NOT EXISTS pixstore_schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await client.query<{ version: number }>('SELECT version FROM pixstore_schema_migrations')
    const done = new Set(rows.map((row) => row.version))
    const newest = Math.max(0, ...migrations.map((m) => m.version))
    const unknown = [...done].filter((version) => version > newest)
    if (unknown.length > 0) {
      throw new Error(`The database schema is at version ${Math.max(...unknown)}, newer than this Pixstore knows (${newest}): upgrade Pixstore`)
    }
    const applied: number[] = []
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue
      await client.query(migration.sql)
      await client.query('INSERT INTO pixstore_schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name])
      applied.push(migration.version)
    }
    await client.query('COMMIT')
    return applied
  } catch (error) {
    failed = true
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.off('error', onError)
    // A client whose transaction failed may be in a bad state: drop it rather than reuse it.
    client.release(failed)
  }
}
