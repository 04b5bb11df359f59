import { mkdir, open, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'

/**
 * Creates `file` (which must not exist) holding `bytes`, and returns once its
 * bytes and its name are on disk. A new file's name lives in its folder, and
 * POSIX makes it durable only by syncing that folder (fsync(2)), so the folder
 * syncs too, side by side with the file's own datasync. The work overlaps
 * where the order allows: the file opens while the first chunk is produced,
 * every chunk is written while the next one is produced (chunks may be
 * encrypted lazily; at most two writes run at once, so memory stays bounded
 * and the event loop turns between chunks), and `whileSyncing` (checks that
 * must pass before the caller commits) runs while the disk syncs. On any
 * failure the file is removed.
 *
 * No temporary name and rename: every version gets a new, unique name that
 * nothing refers to until the caller commits, so a half-written file is
 * never read, only swept.
 */
export async function writeDurably(file: string, bytes: Uint8Array | Iterable<Uint8Array>, whileSyncing?: () => void | Promise<void>): Promise<void> {
  const opening = openNew(file)
  let handle: FileHandle | null = null
  const writes: Promise<void>[] = []
  let settled = 0
  try {
    let position = 0
    let batch: Uint8Array[] = []
    let batchBytes = 0
    const startWrite = (target: FileHandle) => {
      const write = writeAll(target, batch, position)
      // Awaited later, in order; a later write failing first (a full disk) must not be an unhandled rejection meanwhile.
      write.catch(() => {})
      writes.push(write)
      position += batchBytes
      batch = []
      batchBytes = 0
    }
    for (const chunk of bytes instanceof Uint8Array ? [bytes] : bytes) {
      batch.push(chunk)
      batchBytes += chunk.length
      if (batchBytes < MIN_WRITE_BYTES) continue // tiny chunks (the format byte) ride with the next one
      handle ??= await opening
      // Waiting for the oldest write bounds the memory held and hands the event loop back between chunks,
      // so a large save does not stall the requests this process serves.
      if (writes.length - settled >= WRITES_IN_FLIGHT) await writes[settled++]
      startWrite(handle)
    }
    handle ??= await opening
    if (batch.length > 0) startWrite(handle)
    await Promise.all(writes)
    const syncing = Promise.all([handle.datasync(), syncFolder(path.dirname(file))])
    try {
      await whileSyncing?.()
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

/** Smaller chunks are gathered into one write: each write is a trip to the thread pool. */
const MIN_WRITE_BYTES = 64 * 1024
/** Writes (of one 256 KiB chunk each, as the cipher hands them out) running while the next chunk is encrypted. */
const WRITES_IN_FLIGHT = 2

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

/** Writes `buffers` back to back from `position`; a short write (a nearly full disk) continues where it stopped. */
async function writeAll(handle: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
  let { bytesWritten } = buffers.length === 1 ? await handle.write(buffers[0]!, 0, buffers[0]!.length, position) : await handle.writev(buffers, position)
  for (const buffer of buffers) {
    for (let done = Math.min(bytesWritten, buffer.length); done < buffer.length; ) {
      done += (await handle.write(buffer, done, buffer.length - done, position + done)).bytesWritten
    }
    bytesWritten = Math.max(0, bytesWritten - buffer.length)
    position += buffer.length
  }
}
