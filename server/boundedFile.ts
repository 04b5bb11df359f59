import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { PixstoreError } from './errors'

/**
 * Reads a whole regular file of at most `maxBytes`, the one way every entry
 * point (saveImageFromFile, updateImageFromFile, `pixstore import`,
 * `import-v3`) reads a file it was named. `stat` then `readFile` trusted a
 * size that a device (/dev/zero: 0 bytes, endless), a FIFO (hangs) or a file
 * swapped in between does not keep; here the file is opened first (without
 * blocking on a FIFO), the descriptor itself is checked, and at most
 * `maxBytes + 1` bytes are ever read.
 */
export async function readFileWithin(filePath: string, maxBytes: number, what = 'Image'): Promise<Buffer> {
  let handle
  try {
    handle = await open(filePath, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // Opening a socket's path fails with ENXIO: it is no file to read either.
    if (code === 'ENXIO') throw notRegular(what, filePath, 'a socket')
    throw new PixstoreError(`Cannot read ${what.toLowerCase()} file "${filePath}": ${code ?? error}`, 'ERR_FILE_UNREADABLE')
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw notRegular(what, filePath, kindOf(info))
    if (info.size > maxBytes) throw tooLarge(what, filePath, info.size, maxBytes)
    // The size may change under us (a file still being written): read to the limit, not to the size.
    const buffer = Buffer.allocUnsafe(Math.min(info.size, maxBytes) + 1)
    let length = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > maxBytes) throw tooLarge(what, filePath, `more than ${maxBytes}`, maxBytes)
      if (length === buffer.length) return growAndFinish(handle, buffer, length, maxBytes, what, filePath)
    }
    return buffer.subarray(0, length)
  } catch (error) {
    if (error instanceof PixstoreError) throw error
    throw new PixstoreError(`Cannot read ${what.toLowerCase()} file "${filePath}": ${(error as NodeJS.ErrnoException).code ?? error}`, 'ERR_FILE_UNREADABLE')
  } finally {
    await handle.close()
  }
}

/** The file grew past the size fstat gave: keep reading, still never past `maxBytes + 1`. */
async function growAndFinish(handle: import('node:fs/promises').FileHandle, start: Buffer, length: number, maxBytes: number, what: string, filePath: string): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(maxBytes + 1)
  start.copy(buffer, 0, 0, length)
  for (;;) {
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
    if (bytesRead === 0) return buffer.subarray(0, length)
    length += bytesRead
    if (length > maxBytes) throw tooLarge(what, filePath, `more than ${maxBytes}`, maxBytes)
  }
}

function kindOf(info: import('node:fs').Stats): string {
  if (info.isFIFO()) return 'a FIFO'
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device'
  if (info.isSocket()) return 'a socket'
  if (info.isDirectory()) return 'a folder'
  return 'not a regular file'
}

const notRegular = (what: string, filePath: string, kind: string) =>
  new PixstoreError(`Cannot read ${what.toLowerCase()} file "${filePath}": it is ${kind.startsWith('not') ? 'not a regular file' : `${kind}, not a regular file`}`, 'ERR_FILE_UNREADABLE')

const tooLarge = (what: string, filePath: string, bytes: number | string, limit: number) =>
  new PixstoreError(
    `${what} too large: "${filePath}" has ${bytes} bytes, the limit is ${limit} bytes (${what === 'Image' ? 'maxImageBytes' : 'maxImageBytes + 1 format byte'})`,
    'ERR_IMAGE_TOO_LARGE',
  )
