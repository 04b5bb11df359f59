// maxImageBytes and "regular files only" on the API's file entry points:
// real FIFOs, devices, sockets and symlinks, never a fake file system.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { makePng } from '../testing/images'
import { PixstoreBackend } from './backend'
import { readFileWithin } from './boundedFile'
import { fixtureImages, readFixture, tempStore } from '../testing/testSupport'

describe('readFileWithin and the *FromFile entry points', () => {
  const temp = tempStore()
  const backend = new PixstoreBackend({ ...temp.config, maxImageBytes: 100_000, statelessProofSecret: 'x'.repeat(32), errorHandlingMode: 'silent' }, { env: {} })
  const fifo = path.join(temp.dir, 'pipe.png')
  const socketPath = path.join(temp.dir, 'socket.png')
  const zeroLink = path.join(temp.dir, 'zero.png')
  const socketServer = createServer()
  before(async () => {
    await backend.open()
    execFileSync('mkfifo', [fifo])
    symlinkSync('/dev/zero', zeroLink)
    await new Promise<void>((resolve) => socketServer.listen(socketPath, resolve))
  })
  after(async () => {
    socketServer.close()
    await backend.close()
    temp.cleanup()
  })

  // A FIFO with no writer made the old code wait for ever: a bounded test time turns that into a failure.
  it('refuses a FIFO, a device, a symlink to a device and a socket at once, naming the path', { timeout: 20_000 }, async () => {
    const cases: [string, RegExp][] = [
      [fifo, /a FIFO, not a regular file/],
      ['/dev/zero', /a device, not a regular file/],
      [zeroLink, /a device, not a regular file/],
      [socketPath, /a socket, not a regular file/],
      [temp.dir, /not a regular file/],
    ]
    for (const [file, reason] of cases) {
      assert.equal(await backend.saveImageFromFile(file), null, file)
      assert.equal(backend.lastError?.code, 'ERR_FILE_UNREADABLE', file)
      assert.ok(backend.lastError!.message.includes(`"${file}"`), `names the path: ${backend.lastError!.message}`)
      assert.match(backend.lastError!.message, reason)
      await assert.rejects(readFileWithin(file, 1000), reason)
    }
    const record = (await backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
    for (const file of [fifo, zeroLink]) {
      assert.equal(await backend.updateImageFromFile(record.id, file), null, file)
      assert.equal(backend.lastError?.code, 'ERR_FILE_UNREADABLE')
    }
  })

  it('refuses a file over maxImageBytes without saving, and reads one at the limit whole', async () => {
    const big = path.join(temp.dir, 'big.png')
    writeFileSync(big, makePng(150_000, 1))
    assert.equal(await backend.saveImageFromFile(big), null)
    assert.equal(backend.lastError?.code, 'ERR_IMAGE_TOO_LARGE')
    assert.match(backend.lastError!.message, /maxImageBytes/)
    const exact = path.join(temp.dir, 'exact.bin')
    writeFileSync(exact, Buffer.alloc(1000, 7))
    assert.deepEqual(await readFileWithin(exact, 1000), Buffer.alloc(1000, 7))
    await assert.rejects(readFileWithin(exact, 999), { code: 'ERR_IMAGE_TOO_LARGE' })
    const fine = path.join(temp.dir, 'fine.png')
    writeFileSync(fine, readFixture(fixtureImages('png')[0]!))
    assert.ok(await backend.saveImageFromFile(fine))
  })
})
