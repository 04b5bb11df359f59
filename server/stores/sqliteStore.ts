import Database from 'better-sqlite3'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { access, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { isValidImageId } from '../../protocol/record'
import { ImageDataMissingError, PixstoreError } from '../errors'
import type { ImageStore, ImageVersion, NewImageVersion, StoredCiphertext, StoredCiphertextStream, StoredImage } from './imageStore'
import { writeDurably } from './durableWrite'

/** One image's metadata row. `file` (relative to the image root) names its ciphertext file. */
export interface SqliteImageRow extends StoredImage {
  file: string
}

const CIPHERTEXT_SUFFIX = '.pxs'
/** Exactly the names writeVersionFile gives, `name.<16 hex>.pxs`, and the temp names `….pxs.tmp-<8 hex>` that earlier builds wrote first. */
const VERSION_FILE = /^[A-Za-z0-9_-]{1,256}\.[0-9a-f]{16}\.pxs$/
const TEMP_FILE = /^[A-Za-z0-9_-]{1,256}\.[0-9a-f]{16}\.pxs\.tmp-[0-9a-f]{8}$/
/** Folders Pixstore makes for `dir:` ids: any dir an id may have (up to 254 characters), not only the 64 saveImage allows, so every folder is swept. */
const DIR_FOLDER = /^[A-Za-z0-9_-]{1,255}$/
/** Orphans younger than this may belong to another instance's write in progress. */
const ORPHAN_MIN_AGE_MS = 60 * 60 * 1000
/** Crashes can happen while running too: sweep this often, not only at start. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60 * 60 * 1000
const READ_ATTEMPTS = 5
const ID_PAGE_SIZE = 500
const MAX_REMEMBERED_VERSIONS = 10_000

/**
 * Ciphertext files plus SQLite metadata, kept consistent without locks:
 * every version of an image goes to a new, never-modified file with a unique
 * name, made durable before the row is switched to it in one transaction
 * (until then nothing refers to it, so a crash leaves only an orphan to
 * sweep). A reader therefore always gets bytes that match the meta it read,
 * and a crash at any point leaves the previous version intact.
 */
export class SqliteImageStore implements ImageStore {
  private readonly db: Database.Database
  private readonly statements
  private readonly sweepIntervalMs: number
  #sweepTimer: NodeJS.Timeout | null = null
  #sweeping: Promise<number> | null = null
  #versions = new Map<string, ImageVersion | null>()
  #versionsAt: number | undefined

  constructor(
    readonly imageRootDir: string,
    databasePath: string,
    options: { sweepIntervalMs?: number } = {},
  ) {
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS
    mkdirSync(imageRootDir, { recursive: true })
    mkdirSync(path.dirname(path.resolve(databasePath)), { recursive: true })
    this.db = new Database(databasePath)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('busy_timeout = 5000')
    // Freed row space is zeroed where that costs no extra I/O: a replaced or deleted key does not linger in free pages.
    this.db.pragma('secure_delete = FAST')
    this.db.exec(`CREATE TABLE IF NOT EXISTS pixstore_images (
      id TEXT PRIMARY KEY,
      token INTEGER NOT NULL,
      key BLOB NOT NULL,
      iv BLOB NOT NULL,
      tag BLOB NOT NULL,
      format INTEGER NOT NULL,
      size INTEGER NOT NULL,
      file TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT`)
    this.db.exec('CREATE TABLE IF NOT EXISTS pixstore_key_checks (wrapped BLOB NOT NULL) STRICT')
    const columns = 'id, token, key, iv, tag, format, size, file, created_at AS createdAt, updated_at AS updatedAt'
    this.statements = {
      select: this.db.prepare<[string], SqliteImageRow>(`SELECT ${columns} FROM pixstore_images WHERE id = ?`),
      exists: this.db.prepare<[string], { one: number }>('SELECT 1 AS one FROM pixstore_images WHERE id = ?'),
      version: this.db.prepare<[string], ImageVersion>('SELECT id, token, tag FROM pixstore_images WHERE id = ?'),
      dataVersion: this.db.prepare<[], number>('PRAGMA data_version').pluck(),
      insert: this.db.prepare(
        `INSERT INTO pixstore_images (id, token, key, iv, tag, format, size, file, created_at, updated_at)
         VALUES (@id, @token, @key, @iv, @tag, @format, @size, @file, @createdAt, @updatedAt)`,
      ),
      update: this.db.prepare(
        `UPDATE pixstore_images SET token = @token, key = @key, iv = @iv, tag = @tag, format = @format,
         size = @size, file = @file, updated_at = @updatedAt WHERE id = @id`,
      ),
      delete: this.db.prepare<[string], { file: string }>('DELETE FROM pixstore_images WHERE id = ? RETURNING file'),
      files: this.db.prepare<[], { file: string }>('SELECT file FROM pixstore_images'),
      replaceKey: this.db.prepare<[Buffer, string, number, Buffer]>('UPDATE pixstore_images SET key = ? WHERE id = ? AND token = ? AND key = ?'),
      keyChecks: this.db.prepare<[], Buffer>('SELECT wrapped FROM pixstore_key_checks ORDER BY rowid').pluck(),
      addKeyCheck: this.db.prepare<[Buffer]>('INSERT INTO pixstore_key_checks (wrapped) VALUES (?)'),
      clearKeyChecks: this.db.prepare('DELETE FROM pixstore_key_checks'),
      idsAfter: this.db.prepare<[string, number], { id: string }>('SELECT id FROM pixstore_images WHERE id > ? ORDER BY id LIMIT ?'),
    }
    this.statements.select.safeIntegers(false)
  }

  /** Crash leftovers go before serving, and again every sweepIntervalMs; the schema was created by the constructor. */
  async open(): Promise<void> {
    await this.sweepOrphans()
    this.#sweepTimer ??= setInterval(() => {
      this.sweepOrphans().catch((error) => console.error('[pixstore] orphan sweep failed:', error))
    }, this.sweepIntervalMs).unref()
  }

  /** Meta and bytes live apart here: true when the current version's file is there to serve. */
  async hasCiphertext(id: string): Promise<boolean> {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const image = this.row(id)
      if (!image) return false
      try {
        await access(this.resolve(image.file))
        return true
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        if (this.row(id)?.file === image.file) return false // not a concurrent update: the file is lost
      }
    }
    throw new Error(`Image ${id} kept changing while being read`)
  }

  async get(id: string): Promise<SqliteImageRow | null> {
    return this.row(id)
  }

  async has(id: string): Promise<boolean> {
    return this.statements.exists.get(id) !== undefined
  }

  /**
   * One BLOB instead of three: this runs on every image request the cache
   * answers. Answers are remembered until the database changes: a profile
   * showed the lookup itself (a read transaction on the WAL) as the largest
   * cost left per request, and `PRAGMA data_version` tells far more cheaply
   * whether another connection, in any process, has committed since. Our own
   * writes forget their id themselves, since they do not change it.
   */
  async version(id: string): Promise<ImageVersion | null> {
    const dataVersion = this.statements.dataVersion.get()
    if (dataVersion !== this.#versionsAt || this.#versions.size >= MAX_REMEMBERED_VERSIONS) {
      this.#versions.clear()
      this.#versionsAt = dataVersion
    }
    let version = this.#versions.get(id)
    if (version === undefined) {
      version = this.statements.version.get(id) ?? null
      this.#versions.set(id, version)
    }
    return version
  }

  /** Pages by key, so other statements (and writers) can run between pages. */
  async *ids(): AsyncIterable<string> {
    let after = ''
    for (;;) {
      const page = this.statements.idsAfter.all(after, ID_PAGE_SIZE)
      for (const { id } of page) yield id
      if (page.length < ID_PAGE_SIZE) return
      after = page[page.length - 1]!.id
    }
  }

  async insert(id: string, version: NewImageVersion): Promise<SqliteImageRow> {
    const file = await this.writeVersionFile(id, version)
    try {
      const now = Date.now()
      const row = { id, token: version.token ?? now, ...rawMeta(version), format: version.format, size: version.size, file, createdAt: now, updatedAt: now }
      this.statements.insert.run(row)
      this.#versions.delete(id)
      return row
    } catch (error) {
      await this.removeFile(file)
      throw error
    }
  }

  /** Switches `id` to a new version; null (and nothing left behind) when the id does not exist. */
  async replace(id: string, version: NewImageVersion): Promise<SqliteImageRow | null> {
    if (!(await this.has(id))) return null
    const file = await this.writeVersionFile(id, version)
    let swapped: { row: SqliteImageRow; oldFile: string } | null
    try {
      swapped = this.db.transaction(() => {
        const old = this.row(id)
        if (!old) return null
        // Strictly increasing even for two updates within one millisecond.
        const now = Date.now()
        const row: SqliteImageRow = { ...old, ...rawMeta(version), token: version.token ?? Math.max(now, old.token + 1), format: version.format, size: version.size, file, updatedAt: now }
        this.statements.update.run(row)
        this.#versions.delete(id)
        return { row, oldFile: old.file }
      }).immediate()
    } catch (error) {
      await this.removeFile(file)
      throw error
    }
    if (!swapped) {
      await this.removeFile(file)
      return null
    }
    await this.removeFile(swapped.oldFile)
    return swapped.row
  }

  async delete(id: string): Promise<boolean> {
    const deleted = this.statements.delete.get(id)
    this.#versions.delete(id)
    if (!deleted) return false
    await this.removeFile(deleted.file)
    return true
  }

  async replaceKey(id: string, token: number, expected: Uint8Array, key: Uint8Array): Promise<boolean> {
    return this.statements.replaceKey.run(toBuffer(key), id, token, toBuffer(expected)).changes === 1
  }

  async keyChecks(): Promise<Buffer[]> {
    return this.statements.keyChecks.all()
  }

  async writeKeyChecks(checks: readonly Uint8Array[], mode: 'add' | 'replace'): Promise<void> {
    this.db.transaction(() => {
      if (mode === 'replace') this.statements.clearKeyChecks.run()
      for (const check of checks) this.statements.addKeyCheck.run(toBuffer(check))
    }).immediate()
  }

  /** Old pages (raw keys before a rekey) stay in the WAL until it is written back and truncated. */
  async flushLog(): Promise<void> {
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[]
    if (result?.busy) throw new Error('The SQLite log could not be emptied: another connection is reading; run it again when the store is idle')
  }

  /** Metadata and ciphertext of one consistent version. */
  async read(id: string): Promise<StoredCiphertext | null> {
    const opened = await this.openVersion(id)
    if (!opened) return null
    try {
      const length = await checkedLength(opened.image, opened.handle)
      const ciphertext = Buffer.allocUnsafe(length)
      let read = 0
      while (read < length) {
        const { bytesRead } = await opened.handle.read(ciphertext, read, length - read, read)
        if (bytesRead === 0) break // versions are never modified; a truncated one fails its GCM check
        read += bytesRead
      }
      return { image: opened.image, ciphertext: ciphertext.subarray(0, read) }
    } finally {
      await opened.handle.close()
    }
  }

  /** The same, as a stream: the open file keeps this version's bytes even if an update removes its name. */
  async readStream(id: string): Promise<StoredCiphertextStream | null> {
    const opened = await this.openVersion(id)
    if (!opened) return null
    try {
      const size = await checkedLength(opened.image, opened.handle)
      return { image: opened.image, size, stream: opened.handle.createReadStream({ autoClose: true, start: 0, end: Math.max(0, size - 1) }) }
    } catch (error) {
      await opened.handle.close()
      throw error
    }
  }

  /** A concurrent update may remove the file between reading the row and opening it; then the row is read again. */
  private async openVersion(id: string): Promise<{ image: SqliteImageRow; handle: FileHandle } | null> {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const image = this.row(id)
      if (!image) return null
      try {
        return { image, handle: await open(this.resolve(image.file), 'r') }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        // Gone and the row still names it: not a concurrent update but a lost file.
        if (this.row(id)?.file === image.file) throw new ImageDataMissingError(id)
      }
    }
    throw new Error(`Image ${id} kept changing while being read`)
  }

  /** Removes temp files and unreferenced versions left by a crash (older than an hour, so never a write in progress). */
  async sweepOrphans(nowMs = Date.now()): Promise<number> {
    // One at a time: the timer must not start a second walk while a slow one runs.
    this.#sweeping ??= this.sweepOnce(nowMs).finally(() => (this.#sweeping = null))
    return this.#sweeping
  }

  private async sweepOnce(nowMs: number): Promise<number> {
    const referenced = new Set(this.statements.files.all().map((row) => row.file))
    let removed = 0
    const visit = async (relativeDir: string, depth: number): Promise<void> => {
      const entries = await readdir(path.join(this.imageRootDir, relativeDir), { withFileTypes: true })
      for (const entry of entries) {
        const relative = path.posix.join(relativeDir, entry.name)
        if (entry.isDirectory() && depth === 0 && DIR_FOLDER.test(entry.name)) await visit(relative, 1)
        const ours = VERSION_FILE.test(entry.name) || TEMP_FILE.test(entry.name)
        if (!entry.isFile() || !ours || referenced.has(relative)) continue
        const mtimeMs = await stat(this.resolve(relative)).then(
          (info) => info.mtimeMs,
          () => nowMs, // removed meanwhile (a rename finishing a write): leave it
        )
        if (nowMs - mtimeMs < ORPHAN_MIN_AGE_MS) continue
        await this.removeFile(relative)
        removed++
      }
    }
    await visit('', 0)
    return removed
  }

  async close(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer)
    this.#sweepTimer = null
    await this.#sweeping
    this.db.close()
  }

  private row(id: string): SqliteImageRow | null {
    return this.statements.select.get(id) ?? null
  }

  /** A new, never-modified file per version; `validate` runs while the disk syncs, before any row points at it. */
  private async writeVersionFile(id: string, version: NewImageVersion): Promise<string> {
    const file = versionFileName(id)
    const target = this.resolve(file)
    await writeDurably(target, version.ciphertext, version.validate)
    return file
  }

  private async removeFile(file: string): Promise<void> {
    await rm(this.resolve(file), { force: true })
  }

  /** The only way from a stored name to a disk path; refuses anything outside the root. */
  private resolve(file: string): string {
    const root = path.resolve(this.imageRootDir)
    const full = path.resolve(root, file)
    if (!full.startsWith(root + path.sep)) throw new Error(`Refusing path outside imageRootDir: ${file}`)
    return full
  }
}

/**
 * The open version file's length, refusing anything but a regular file: a
 * device or FIFO swapped in at a version's path would otherwise be read
 * without end. (A regular file has the length its descriptor says.)
 */
async function checkedLength(image: StoredImage, handle: FileHandle): Promise<number> {
  const info = await handle.stat()
  if (!info.isFile()) throw new Error(`Image ${image.id}: its ciphertext file is not a regular file`)
  return info.size
}

/** File systems allow 255 bytes per name; a version file adds 21 (`.<16 hex>.pxs`) to the name. */
const MAX_PLAIN_NAME = 200

/**
 * `dir:name` → `dir/name.<version>.pxs`; `name` → `name.<version>.pxs`. A name
 * too long for a file name (ids may have 256 characters) keeps its start and
 * gets a SHA-256 of the whole name: the row, not the file name, maps ids to files.
 */
function versionFileName(id: string): string {
  if (!isValidImageId(id)) throw new PixstoreError(`Invalid image id "${String(id).slice(0, 64)}"`, 'ERR_INVALID_ID')
  const [dir, fullName] = id.includes(':') ? id.split(':') : [undefined, id]
  const name = fullName!.length <= MAX_PLAIN_NAME ? fullName : `${fullName!.slice(0, 150)}-${createHash('sha256').update(fullName!).digest('hex').slice(0, 40)}`
  const base = `${name}.${randomBytes(8).toString('hex')}${CIPHERTEXT_SUFFIX}`
  return dir ? `${dir}/${base}` : base
}

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

function rawMeta({ meta }: NewImageVersion): Pick<StoredImage, 'key' | 'iv' | 'tag'> {
  return { key: Buffer.from(meta.key), iv: Buffer.from(meta.iv), tag: Buffer.from(meta.tag) }
}
