import Database from 'better-sqlite3'
import path from 'node:path'
import { Command } from 'commander'
import { isValidImageId } from '../protocol/record'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH, type RawImageMeta } from '../protocol/wire'
import type { PixstoreBackend } from '../server/backend'
import { readFileWithin } from '../server/boundedFile'
import { addConfigOptions, CONFIG_HELP, loadCliConfig } from './config'
import { CliUsageError } from './errors'
import { PixstoreError } from '../server/errors'
import { openOfflineBackend } from './openBackend'
import { printJsonLine, printLine, reasonOf } from './output'
import { createProgress } from './progress'

/** A row of Pixstore 3.x's `image_records` table; meta is JSON of base64 key, iv and tag. */
interface V3Row {
  id: string
  token: number
  meta: string
}

/** Pixstore 3.x's file naming: `dir:name` → `<root>/dir/name.pixstore-image`, `name` → `<root>/name.pixstore-image`. */
const V3_EXTENSION = '.pixstore-image'

type Outcome = { status: 'imported' | 'already imported' } | { status: 'failed'; reason: string }

/**
 * `pixstore import-v3`: copies a Pixstore 3.x store (its SQLite file and
 * ciphertext folder, read only) into this one, keeping id, token, key, iv and
 * tag, so records apps hold keep decrypting. Resumable: an id already here
 * with the same token is left alone.
 */
export function importV3Command(): Command {
  return addConfigOptions(
    new Command('import-v3')
      .description('import a store written by Pixstore 3.x, keeping ids, tokens and keys')
      .requiredOption('--database <pixstore3.sqlite>', 'the 3.x SQLite file (its databasePath)')
      .requiredOption('--images <folder>', 'the 3.x ciphertext folder (its imageRootDir)')
      .option('--json', 'print one JSON line per image instead of the summary'),
  )
    .addHelpText('after', `\nRunning it again imports only what is missing.\nExit code: 0 when every image is here, 1 when any failed, 2 for a usage error.\n${CONFIG_HELP}`)
    .action(async (options: { database: string; images: string; json?: boolean; [option: string]: unknown }) => {
      const config = loadCliConfig(options, process.env)
      const source = openV3Database(options.database)
      const backend = await openOfflineBackend(config)
      const counts = { imported: 0, 'already imported': 0, failed: 0 }
      const failures: { id: string; reason: string }[] = []
      try {
        const { count } = source.prepare<[], { count: number }>('SELECT COUNT(*) AS count FROM image_records').get()!
        const progress = createProgress(count, 'Importing 3.x')
        for (const row of source.prepare<[], V3Row>('SELECT id, token, meta FROM image_records ORDER BY id').iterate()) {
          const outcome = await importOne(backend, row, options.images)
          counts[outcome.status]++
          if (outcome.status === 'failed') failures.push({ id: String(row.id), reason: outcome.reason })
          if (options.json) printJsonLine({ id: row.id, ...outcome })
          progress.tick(String(row.id), outcome.status)
        }
        progress.stop()
      } finally {
        source.close()
        await backend.close()
      }
      if (!options.json) {
        printLine(`Imported ${counts.imported}, already imported ${counts['already imported']}, failed ${counts.failed}.`)
        for (const { id, reason } of failures) printLine(`  failed ${id}: ${reason}`)
      }
      process.exitCode = counts.failed > 0 ? 1 : 0
    })
}

function openV3Database(file: string): Database.Database {
  let db: Database.Database
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
  } catch (error) {
    throw new CliUsageError(`--database ${file}: cannot open it (${(error as Error).message})`)
  }
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'image_records'").get()
  if (!table) {
    db.close()
    throw new CliUsageError(`--database ${file}: not a Pixstore 3.x database (no image_records table)`)
  }
  db.defaultSafeIntegers(false)
  return db
}

async function importOne(backend: PixstoreBackend, row: V3Row, imagesDir: string): Promise<Outcome> {
  try {
    if (!isValidImageId(row.id)) return { status: 'failed', reason: `id ${JSON.stringify(String(row.id).slice(0, 64))} is not a valid Pixstore id` }
    const existing = await backend.store.get(row.id)
    if (existing) {
      if (existing.token === row.token) return { status: 'already imported' }
      return { status: 'failed', reason: `an image with this id and a different token (${existing.token}) is already stored here` }
    }
    const meta = parseV3Meta(row.meta)
    const [dir, name] = row.id.includes(':') ? row.id.split(':') : [null, row.id]
    const file = path.join(imagesDir, ...(dir ? [dir] : []), `${name}${V3_EXTENSION}`)
    let ciphertext: Buffer
    try {
      // The ciphertext of an image of maxImageBytes is one byte longer (the format byte).
      ciphertext = await readFileWithin(file, backend.config.maxImageBytes + 1, 'Ciphertext')
    } catch (error) {
      return { status: 'failed', reason: reasonOf(error) } // names the file and why
    }
    await backend.importEncryptedImage({ id: row.id, token: row.token, meta, ciphertext })
    return { status: 'imported' }
  } catch (error) {
    return { status: 'failed', reason: reasonOf(error) }
  }
}

function parseV3Meta(json: string): RawImageMeta {
  let meta: { key?: unknown; iv?: unknown; tag?: unknown }
  try {
    meta = JSON.parse(json)
  } catch {
    throw new PixstoreError('its meta column is not JSON', 'ERR_IMAGE_DAMAGED')
  }
  const field = (name: 'key' | 'iv' | 'tag', length: number) => {
    const value = meta?.[name]
    const bytes = typeof value === 'string' ? Buffer.from(value, 'base64') : null
    if (!bytes || bytes.length !== length) throw new PixstoreError(`its meta ${name} is not ${length} bytes of base64`, 'ERR_IMAGE_DAMAGED')
    return bytes
  }
  return { key: field('key', KEY_LENGTH), iv: field('iv', IV_LENGTH), tag: field('tag', TAG_LENGTH) }
}
