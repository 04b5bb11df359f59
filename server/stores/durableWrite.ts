import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'

/**
 * Writes `bytes` to `temp`, makes them durable, and renames `temp` to
 * `target`, so a partly written file never carries a real name. The work is
 * overlapped where the order allows: the file opens while the first chunk is
 * produced, each chunk is written while the next is produced (chunks may be
 * encrypted lazily), and `whileSyncing` (checks that must pass before the
 * caller commits) runs while the disk syncs. On any failure, `temp` is gone.
 */
export async function writeDurably(temp: string, target: string, bytes: Uint8Array | Iterable<Uint8Array>, whileSyncing?: () => void): Promise<void> {
  const opening = openNew(temp)
  let handle: FileHandle | null = null
  let writing: Promise<unknown> = Promise.resolve()
  try {
    let position = 0
    for (const chunk of bytes instanceof Uint8Array ? [bytes] : bytes) {
      handle ??= await opening
      await writing
      writing = writeAll(handle, chunk, position)
      position += chunk.length
    }
    handle ??= await opening
    await writing
    const syncing = handle.datasync()
    try {
      whileSyncing?.()
    } finally {
      await syncing
    }
    await Promise.all([handle.close(), rename(temp, target)])
  } catch (error) {
    await writing.catch(() => {}) // never close under a write still running
    const opened = handle ?? (await opening.catch(() => null))
    await opened?.close().catch(() => {})
    await rm(temp, { force: true })
    throw error
  }
}

/** The folder exists for nearly every write: create it only when the open says it is missing. */
async function openNew(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'wx')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    await mkdir(path.dirname(file), { recursive: true })
    return open(file, 'wx')
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done)
    done += bytesWritten
  }
}
