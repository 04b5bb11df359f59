import { mkdir, open, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'

/**
 * Creates `file` (which must not exist) holding `bytes`, and returns once its
 * bytes and its name are on disk. A new file's name lives in its folder, and
 * POSIX makes it durable only by syncing that folder (fsync(2)), so the folder
 * syncs too, side by side with the file's own datasync. The work overlaps
 * where the order allows: the file opens while the first chunk is produced,
 * every chunk is written while the next ones are produced (chunks may be
 * encrypted lazily), and `whileSyncing` (checks that must pass before the
 * caller commits) runs while the disk syncs. On any failure the file is
 * removed.
 *
 * No temporary name and rename: every version gets a new, unique name that
 * nothing refers to until the caller commits, so a half-written file is
 * never read, only swept.
 */
export async function writeDurably(file: string, bytes: Uint8Array | Iterable<Uint8Array>, whileSyncing?: () => void): Promise<void> {
  const opening = openNew(file)
  let handle: FileHandle | null = null
  const writes: Promise<void>[] = []
  try {
    let position = 0
    for (const chunk of bytes instanceof Uint8Array ? [bytes] : bytes) {
      handle ??= await opening
      // Not awaited: positioned writes may run side by side while the next chunk is produced.
      writes.push(writeAll(handle, chunk, position))
      position += chunk.length
    }
    handle ??= await opening
    await Promise.all(writes)
    const syncing = Promise.all([handle.datasync(), syncFolder(path.dirname(file))])
    try {
      whileSyncing?.()
    } finally {
      await syncing
    }
    await handle.close()
  } catch (error) {
    await Promise.allSettled(writes) // never close under a write still running
    const opened = handle ?? (await opening.catch(() => null))
    await opened?.close().catch(() => {})
    if (opened) await rm(file, { force: true })
    throw error
  }
}

/** The folder exists for nearly every write: create it only when the open says it is missing. */
async function openNew(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'wx')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    const folder = path.dirname(file)
    await mkdir(folder, { recursive: true })
    // The new folder's own name must survive a crash too, or the file is lost with it.
    await syncFolder(path.dirname(folder))
    return open(file, 'wx')
  }
}

/** fsync(2) on a folder: makes the names created in it durable. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done)
    done += bytesWritten
  }
}
