/**
 * A private PostgreSQL cluster for tests and the bench: its own data dir,
 * port and socket dir under a temp dir, run by the `postgres` user when we
 * are root. Independent of any cluster already running on 5432.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { freePort } from './freePort'
import { giveTo, runAs, runAsSync, serverUser } from './runAs'

const POSTGRES_ROOT = '/usr/lib/postgresql'
export const CLUSTER_USER = 'pixstore'

/** The newest installed server's bin dir (Debian puts each major version under /usr/lib/postgresql/<version>/bin). */
export function postgresBinDir(): string {
  const versions = existsSync(POSTGRES_ROOT)
    ? readdirSync(POSTGRES_ROOT)
        .filter((version) => existsSync(path.join(POSTGRES_ROOT, version, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : []
  if (versions.length === 0) {
    throw new Error(`No PostgreSQL server under ${POSTGRES_ROOT}: install Debian's postgresql package (bash scripts/ensure-debian-packages.sh does)`)
  }
  return path.join(POSTGRES_ROOT, versions[0]!, 'bin')
}

export class PostgresCluster {
  private running = false
  private nextDatabase = 1

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly password: string,
    private readonly bin: string,
    private readonly user: string,
  ) {}

  /** initdb + start. Password auth over TCP (so URLs carry a real password), trust on the private socket. */
  static async start(): Promise<PostgresCluster> {
    const bin = postgresBinDir()
    const user = serverUser('postgres')
    const dir = mkdtempSync(path.join(tmpdir(), 'pixstore-pg-'))
    mkdirSync(path.join(dir, 'socket'))
    const password = randomBytes(12).toString('hex')
    writeFileSync(path.join(dir, 'pwfile'), password)
    giveTo(user, dir, path.join(dir, 'socket'), path.join(dir, 'pwfile'))
    const cluster = new PostgresCluster(dir, await freePort(), password, bin, user)
    live.add(cluster)
    try {
      await runAs(user, path.join(bin, 'initdb'), [
        '-D', cluster.dataDir, '-U', CLUSTER_USER, `--pwfile=${path.join(dir, 'pwfile')}`,
        '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale', '-N',
      ])
      await cluster.startServer()
    } catch (error) {
      cluster.removeSync()
      throw error
    }
    return cluster
  }

  get dataDir(): string {
    return path.join(this.dir, 'data')
  }

  /** A database URL with the cluster's password, for `databaseUrl`. */
  url(database = 'postgres'): string {
    return `postgres://${CLUSTER_USER}:${this.password}@127.0.0.1:${this.port}/${database}`
  }

  /** A fresh, empty database; returns its URL. */
  async createDatabase(): Promise<string> {
    const name = `pixstore_test_${this.nextDatabase++}`
    await this.admin(`CREATE DATABASE ${name}`)
    return this.url(name)
  }

  /** One statement as the superuser, on its own connection. */
  async admin<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, database = 'postgres', values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.url(database) })
    await client.connect()
    try {
      return (await client.query<T>(sql, values)).rows
    } finally {
      await client.end()
    }
  }

  /** Stops the server (a fast shutdown: clients are disconnected), keeping the data. */
  async stopServer(): Promise<void> {
    if (!this.running) return
    await runAs(this.user, path.join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'fast', '-w'])
    this.running = false
  }

  /** Starts it again on the same port. */
  async startServer(): Promise<void> {
    const options = [
      `-p ${this.port}`, `-k ${path.join(this.dir, 'socket')}`, "-c listen_addresses='127.0.0.1'",
      // Throwaway data: durability off, so tests do not wait for fsync.
      '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=200',
    ].join(' ')
    await runAs(this.user, path.join(this.bin, 'pg_ctl'), ['start', '-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '30', '-o', options])
    this.running = true
  }

  async stop(): Promise<void> {
    await this.stopServer().catch(() => this.removeSync())
    this.removeSync()
  }

  /** Immediate stop and removal; safe to call twice and from an 'exit' handler. */
  removeSync(): void {
    if (this.running) {
      try {
        runAsSync(this.user, path.join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w'])
      } catch {
        // already gone
      }
      this.running = false
    }
    rmSync(this.dir, { recursive: true, force: true })
    live.delete(this)
  }
}

const live = new Set<PostgresCluster>()
// A test file that fails or forgets must not leave a server running.
process.on('exit', () => {
  for (const cluster of live) cluster.removeSync()
})

let shared: Promise<PostgresCluster> | null = null

/** One cluster per test process, started on first use and removed when the process exits. */
export function sharedPostgresCluster(): Promise<PostgresCluster> {
  shared ??= PostgresCluster.start()
  return shared
}
