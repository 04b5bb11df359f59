import { PixstoreError } from '../server/errors'
/**
 * `pixstore migrate`: copies every image from one store to another (SQLite +
 * files to PostgreSQL, or back), keeping ids, tokens and keys, so records
 * handed out before stay valid. Safe to interrupt and run again: an image the
 * target already holds at the same token is skipped, any other is (re)written
 * in one atomic store write. Every copied image is read back and decrypted.
 * Keys: one key ring for both sides. A wrapped source key is unwrapped with
 * whichever configured KEK wrapped it; the target gets every key wrapped under
 * the current KEK (copied as is when it already is), or raw without a KEK.
 */
import { Command } from 'commander'
import { resolveConfig, type PixstoreConfig } from '../server/config'
import { checkStoredImage } from '../server/imageCheck'
import { checkStoreKeys } from '../server/keys/keyCheck'
import { KeyRing } from '../server/keys/keyRing'
import { resolveKeyRing } from '../server/secrets'
import type { ImageStore, StoredCiphertext } from '../server/stores/imageStore'
import { openImageStore } from '../server/stores/openImageStore'
import { redactDatabaseUrl } from '../server/stores/databaseUrl'
import { CliUsageError } from './errors'

/** A store as the config names it: `{ databaseUrl }`, or `{ databasePath, imageRootDir }`. */
export type StoreLocation = Partial<Pick<PixstoreConfig, 'databaseUrl' | 'databasePath' | 'imageRootDir'>>

export interface MigrateProgress {
  /** Ids handled so far (copied + skipped). */
  done: number
  copied: number
  /** Already in the target at the same token (an earlier, interrupted run). */
  skipped: number
  /** The id just handled. */
  id: string
}

export interface MigrateOptions {
  from: StoreLocation
  to: StoreLocation
  onProgress?: (progress: MigrateProgress) => void
  /** Stops between two images (the target stays consistent; run again to resume). */
  signal?: AbortSignal
  /** Unwraps the source's keys and wraps the target's (current KEK); none: keys are raw on both sides. */
  keys?: KeyRing
  /** Largest image copied (its meta is checked before its bytes are read); default: the target's maxImageBytes (25 MiB unless set). */
  maxImageBytes?: number
}

export interface MigrateResult {
  copied: number
  skipped: number
  /** Images read back from the target and decrypted: every copied and every skipped one. */
  verified: number
}

export async function migrateStore({ from, to, onProgress, signal, keys = new KeyRing(undefined), maxImageBytes }: MigrateOptions): Promise<MigrateResult> {
  const [source, target] = [openLocation(from, 'from'), openLocation(to, 'to')]
  const limit = maxImageBytes ?? target.config.maxImageBytes
  if (describeLocation(source.config) === describeLocation(target.config)) {
    throw new PixstoreError(`migrate: source and target are the same store (${describeLocation(source.config)})`, 'ERR_CLI_USAGE')
  }
  const progress: MigrateProgress = { done: 0, copied: 0, skipped: 0, id: '' }
  try {
    await source.store.open()
    await target.store.open()
    await checkStoreKeys(source.store, keys, { readOnly: true })
    await checkStoreKeys(target.store, keys)
    for await (const id of source.store.ids()) {
      signal?.throwIfAborted()
      // The size from the meta first, so an oversized image is never read; then the bytes must match it.
      const meta = await source.store.get(id)
      if (!meta) continue // deleted while we walked
      assertWithinLimit(id, meta.size, limit)
      const original = await source.store.read(id)
      if (!original) continue // deleted while we walked
      assertWithinLimit(id, Math.max(original.image.size, original.ciphertext.length - 1), limit)
      const opened = await keys.open(original.image.key, id)
      const existing = await target.store.get(id)
      if (existing?.token === original.image.token) {
        progress.skipped++
      } else {
        const key = opened.current ? original.image.key : await keys.wrap(opened.key, id)
        await copy(target.store, { ...original, image: { ...original.image, key } }, existing !== null)
        progress.copied++
      }
      await verify(target.store, original, keys, opened.key)
      progress.done++
      progress.id = id
      onProgress?.({ ...progress })
    }
    return { copied: progress.copied, skipped: progress.skipped, verified: progress.done }
  } finally {
    await source.store.close()
    await target.store.close()
  }
}

/** A one-line progress display for a terminal (rewritten in place) or a log (one line per call). */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr, every = 100): (progress: MigrateProgress) => void {
  return (progress) => {
    const line = `migrate: ${progress.done} images (${progress.copied} copied, ${progress.skipped} already there)`
    if (stream.isTTY) stream.write(`\r${line}`)
    else if (progress.done % every === 0) stream.write(`${line}\n`)
  }
}

function assertWithinLimit(id: string, bytes: number, limit: number): void {
  if (bytes > limit) {
    throw new PixstoreError(`migrate: image ${id} has ${bytes} bytes, more than maxImageBytes (${limit}); nothing of it was copied. Pass --max-image-bytes to copy bigger images.`, 'ERR_IMAGE_TOO_LARGE')
  }
}

function openLocation(location: StoreLocation, role: 'from' | 'to'): { config: PixstoreConfig; store: ImageStore } {
  try {
    // No env: the locations are exactly what the caller named.
    const config = resolveConfig(location, {})
    return { config, store: openImageStore(config) }
  } catch (error) {
    throw new PixstoreError(`migrate --${role}: ${(error as Error).message}`, 'ERR_CONFIG', { cause: error })
  }
}

function describeLocation(config: PixstoreConfig): string {
  return config.databaseUrl !== undefined ? redactDatabaseUrl(config.databaseUrl) : `sqlite:${config.databasePath} + ${config.imageRootDir}`
}

async function copy(target: ImageStore, { image, ciphertext }: StoredCiphertext, exists: boolean): Promise<void> {
  const version = { ciphertext, meta: image, format: image.format, size: image.size, token: image.token }
  if (exists) await target.replace(image.id, version)
  else await target.insert(image.id, version)
}

/** The target's copy must be byte-identical, hold the same key, and pass the backend's image check (decrypt, frame, content format) with the target's own meta. */
async function verify(target: ImageStore, original: StoredCiphertext, keys: KeyRing, key: Buffer): Promise<void> {
  const { id, token } = original.image
  const copied = await target.read(id)
  if (!copied || copied.image.token !== token || !copied.ciphertext.equals(original.ciphertext)) {
    throw new PixstoreError(`migrate: image ${id} was not copied intact (token ${token})`, 'ERR_CLI_FAILED')
  }
  try {
    const copiedKey = await keys.unwrap(copied.image.key, id)
    if (!copiedKey.equals(key)) throw new PixstoreError('its key differs from the source\'s', 'ERR_CLI_FAILED')
    checkStoredImage(id, copied.ciphertext, { ...copied.image, key: copiedKey })
  } catch (error) {
    throw new PixstoreError(`migrate: image ${id} does not decrypt after copying: ${(error as Error).message}`, 'ERR_CLI_FAILED', { cause: error })
  }
}

/** `pixstore migrate`: the command around migrateStore; Ctrl-C stops between two images, and a rerun resumes. */
export function migrateCommand(): Command {
  const command = new Command('migrate').description('copy every image to another store (SQLite + files <-> PostgreSQL), keeping ids, tokens and keys')
  for (const role of ['from', 'to'] as const) {
    command
      .option(`--${role}-database-path <file>`, `${role === 'from' ? 'source' : 'target'} SQLite file`)
      .option(`--${role}-image-root-dir <dir>`, `${role === 'from' ? 'source' : 'target'} ciphertext folder`)
      .option(`--${role}-database-url <url>`, `${role === 'from' ? 'source' : 'target'} PostgreSQL URL (password in PGPASSWORD)`)
  }
  return command
    .option('--max-image-bytes <bytes>', 'largest image copied (default: 26214400, 25 MiB); a bigger one stops the copy before it is read')
    .addHelpText(
      'after',
      `\nRunning it again copies only what is missing or changed. Stop writes to the source while it runs.
Keys: with PIXSTORE_KEY_ENCRYPTION_KEY every key is stored wrapped under it in the target; a source
wrapped under another key encryption key needs that one in PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS.`,
    )
    .action(async (options: Record<string, string | undefined>) => {
      const location = (role: 'from' | 'to'): StoreLocation => ({
        databasePath: options[`${role}DatabasePath`],
        imageRootDir: options[`${role}ImageRootDir`],
        databaseUrl: options[`${role}DatabaseUrl`],
      })
      const from = location('from')
      const to = location('to')
      for (const [role, where] of [['from', from], ['to', to]] as const) {
        if (!where.databaseUrl && !(where.databasePath && where.imageRootDir)) {
          throw new CliUsageError(`migrate needs --${role}-database-url, or --${role}-database-path with --${role}-image-root-dir`)
        }
      }
      const rawLimit = options.maxImageBytes
      if (rawLimit !== undefined && (!/^\d+$/.test(rawLimit) || Number(rawLimit) < 1 || !Number.isSafeInteger(Number(rawLimit)))) {
        throw new CliUsageError(`--max-image-bytes: expected a positive whole number of bytes, got ${JSON.stringify(rawLimit)}`)
      }
      const stop = new AbortController()
      const abort = () => stop.abort(new PixstoreError('migrate: interrupted; run it again to resume', 'ERR_CLI_FAILED'))
      process.once('SIGINT', abort)
      process.once('SIGTERM', abort)
      try {
        const keys = resolveKeyRing({ keyEncryptionKey: undefined, previousKeyEncryptionKeys: [] }, process.env, console.warn)
        const result = await migrateStore({ from, to, onProgress: progressPrinter(), signal: stop.signal, keys, maxImageBytes: rawLimit === undefined ? undefined : Number(rawLimit) })
        console.log(`Migrated: ${result.copied} copied, ${result.skipped} already there, ${result.verified} verified.`)
      } finally {
        process.off('SIGINT', abort)
        process.off('SIGTERM', abort)
      }
    })
}
