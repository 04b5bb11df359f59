import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { PixstoreState } from '../../protocol/wire'
import { PixstoreBackend } from '../backend'
import { ImageDataMissingError } from '../errors'
import { makePng } from '../../testing/images'
import { fixtureImages, FIXTURES, readFixture, tempStore, TEST_SECRET } from '../../testing/testSupport'
import type { NewImageVersion } from './imageStore'
import { SqliteImageStore } from './sqliteStore'

const version = (fill: number): NewImageVersion => ({
  ciphertext: new Uint8Array(64).fill(fill),
  meta: { key: new Uint8Array(32).fill(fill), iv: new Uint8Array(12).fill(fill), tag: new Uint8Array(16).fill(fill) },
  format: 1,
  size: 63,
})

/** Every file under the image root, relative to it. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort()
}

describe('SqliteImageStore', () => {
  let temp: ReturnType<typeof tempStore>
  let store: SqliteImageStore
  beforeEach(() => {
    temp = tempStore()
    store = new SqliteImageStore(temp.config.imageRootDir, temp.config.databasePath)
  })
  afterEach(async () => {
    await store.close()
    temp.cleanup()
  })

  it('keeps exactly one file per image: the version the row points at', async () => {
    await store.insert('album:one', version(1))
    const replaced = (await store.replace('album:one', version(2)))!
    assert.deepEqual(filesUnder(temp.config.imageRootDir), [replaced.file])
    assert.match(replaced.file, /^album\/one\.[0-9a-f]{16}\.pxs$/)
    const read = (await store.read('album:one'))!
    assert.deepEqual(new Uint8Array(read.ciphertext), version(2).ciphertext)
    assert.deepEqual(new Uint8Array(read.image.key), version(2).meta.key)
  })

  it('leaves nothing behind when the database refuses a save', async () => {
    await store.insert('dup', version(1))
    const before = filesUnder(temp.config.imageRootDir)
    await assert.rejects(store.insert('dup', version(2)), /UNIQUE/)
    assert.deepEqual(filesUnder(temp.config.imageRootDir), before)
    assert.deepEqual(new Uint8Array((await store.read('dup'))!.ciphertext), version(1).ciphertext)
  })

  it('leaves no file behind when validate refuses a version, or its chunks fail half-way', async () => {
    await store.insert('kept', version(1))
    const before = filesUnder(temp.config.imageRootDir)
    const refuse = () => {
      throw new Error('refused')
    }
    await assert.rejects(store.insert('new:one', { ...version(2), validate: refuse }), /refused/)
    await assert.rejects(store.replace('kept', { ...version(3), validate: refuse }), /refused/)
    const failing = (function* () {
      yield new Uint8Array(10)
      throw new Error('cipher failed')
    })()
    await assert.rejects(store.insert('new:two', { ...version(4), ciphertext: failing }), /cipher failed/)
    assert.deepEqual(filesUnder(temp.config.imageRootDir), before)
  })

  it('makes each version durable, its bytes and its name in the folder, before the row that points at it commits', async () => {
    // Traced for real: every version file's fdatasync and an fsync of its folder complete before the next write to the WAL.
    const config = { ...temp.config, statelessProofSecret: TEST_SECRET, defaultEndpointEnabled: false }
    const child = fileURLToPath(new URL('../../testing/testChildren/saveThree.ts', import.meta.url))
    const trace = path.join(temp.dir, 'trace')
    execFileSync('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=openat,mkdir,fsync,fdatasync,pwrite64', process.execPath, '--import', 'tsx', child, JSON.stringify(config), fixtureImages('png')[0]!])
    const versions = durabilityBeforeCommit(readFileSync(trace, 'utf8'), temp.config.imageRootDir)
    assert.equal(versions.length, 3, 'a save, a save into a new folder, an update')
    for (const version of versions) {
      assert.ok(version.dataSynced, `${version.file}: fdatasync before the commit`)
      assert.ok(version.folderSynced, `${version.file}: its folder fsynced before the commit`)
      assert.ok(version.committed, `${version.file}: a WAL write after it`)
    }
    const inNewFolder = versions.find((version) => version.file.includes(`${path.sep}albums${path.sep}`))
    assert.ok(inNewFolder?.newFolderNamed, 'the new albums folder: its name in the root fsynced before the commit')
  })

  it('a disk that refuses a write mid-save (EFBIG): the save fails cleanly, nothing is left, the process keeps saving', async () => {
    // A file size limit (ulimit -f, in KiB) makes writes past 512 KiB fail while other writes of the same save are in flight.
    const config = { ...temp.config, statelessProofSecret: TEST_SECRET, defaultEndpointEnabled: false }
    const child = fileURLToPath(new URL('../../testing/testChildren/saveUnderFileLimit.ts', import.meta.url))
    const big = path.join(temp.dir, 'big.png')
    writeFileSync(big, makePng(3 * 1024 * 1024, 5))
    const script = 'ulimit -f 512 && exec "$0" --import tsx "$@"'
    const output = execFileSync('bash', ['-c', script, process.execPath, child, JSON.stringify(config), big, fixtureImages('png')[0]!], { encoding: 'utf8' })
    const { big: bigSave, small } = JSON.parse(output.trim().split('\n').at(-1)!) as Record<string, { ok: boolean; code?: string; message?: string }>
    assert.equal(bigSave!.ok, false)
    assert.match(bigSave!.message ?? '', /EFBIG|too large/i)
    assert.equal(small!.ok, true, `the next save works: ${JSON.stringify(small)}`)
    const files = filesUnder(temp.config.imageRootDir)
    assert.equal(files.length, 1, `only the small image's file: ${files.join(', ')}`)
  })

  it('answers version() with what is committed now, by this connection or another', async () => {
    const other = new SqliteImageStore(temp.config.imageRootDir, temp.config.databasePath)
    try {
      assert.equal(await store.version('seen'), null)
      const first = await other.insert('seen', version(1))
      assert.equal((await store.version('seen'))?.token, first.token, "another connection's insert")
      const second = (await other.replace('seen', version(2)))!
      assert.equal((await store.version('seen'))?.token, second.token, "another connection's update")
      assert.deepEqual(new Uint8Array((await store.version('seen'))!.tag), version(2).meta.tag)
      const third = (await store.replace('seen', version(3)))!
      assert.equal((await store.version('seen'))?.token, third.token, 'our own update')
      assert.equal(await store.delete('seen'), true)
      assert.equal(await store.version('seen'), null, 'our own delete')
      await store.insert('seen', version(4))
      assert.equal(await other.delete('seen'), true)
      assert.equal(await store.version('seen'), null, "another connection's delete")
    } finally {
      await other.close()
    }
  })

  it('writes nothing when replacing an unknown id', async () => {
    assert.equal(await store.replace('ghost', version(1)), null)
    assert.deepEqual(filesUnder(temp.config.imageRootDir), [])
  })

  it('survives a crash mid-write: old version intact, leftovers swept once they are old', async () => {
    const row = await store.insert('keep', version(1))
    // What a crash leaves: a half-written temp file and a renamed version never committed.
    const temp1 = path.join(temp.config.imageRootDir, `${row.file}.tmp-deadbeef`)
    const orphan = path.join(temp.config.imageRootDir, 'keep.0123456789abcdef.pxs')
    const fresh = path.join(temp.config.imageRootDir, 'keep.fedcba9876543210.pxs')
    for (const file of [temp1, orphan, fresh]) writeFileSync(file, 'partial')
    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000)
    utimesSync(temp1, hourAgo, hourAgo)
    utimesSync(orphan, hourAgo, hourAgo)
    assert.deepEqual(new Uint8Array((await store.read('keep'))!.ciphertext), version(1).ciphertext)
    assert.equal(await store.sweepOrphans(), 2)
    assert.ok(!existsSync(temp1) && !existsSync(orphan))
    assert.ok(existsSync(fresh), 'a young file may be another instance mid-write')
    assert.ok(existsSync(path.join(temp.config.imageRootDir, row.file)))
  })

  it('sweeps only names Pixstore writes, never other files that look alike', async () => {
    await store.insert('album:keep', version(1))
    const root = temp.config.imageRootDir
    mkdirSync(path.join(root, '.hidden'))
    const foreign = ['notes.tmp-backup', 'photo.pxs', 'my.draft.pxs', 'album/x.tmp-1', 'album/a.0123.pxs', '.hidden/x.0123456789abcdef.pxs', 'x.0123456789ABCDEF.pxs']
    const ours = ['gone.0123456789abcdef.pxs', 'album/gone.fedcba9876543210.pxs', 'album/gone.fedcba9876543210.pxs.tmp-0badcafe']
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000)
    for (const file of [...foreign, ...ours]) {
      writeFileSync(path.join(root, file), 'x')
      utimesSync(path.join(root, file), old, old)
    }
    assert.equal(await store.sweepOrphans(), ours.length)
    for (const file of foreign) assert.ok(existsSync(path.join(root, file)), `kept ${file}`)
    for (const file of ours) assert.ok(!existsSync(path.join(root, file)), `swept ${file}`)
    assert.ok(await store.read('album:keep'))
  })

  it('stores, reads, streams, replaces and deletes every valid id length, up to 256 characters', async () => {
    const ids = ['n'.repeat(234), 'n'.repeat(235), 'n'.repeat(256), `${'d'.repeat(64)}:${'n'.repeat(191)}`, `${'d'.repeat(200)}:${'n'.repeat(55)}`, `d:${'n'.repeat(254)}`]
    for (const id of ids) {
      await store.insert(id, version(1))
      assert.deepEqual(new Uint8Array((await store.read(id))!.ciphertext), version(1).ciphertext, `read ${id.length}`)
      const streamed = (await store.readStream(id))!
      streamed.stream.destroy()
      await store.replace(id, version(2))
      assert.deepEqual(new Uint8Array((await store.read(id))!.ciphertext), version(2).ciphertext)
    }
    // Two long names that share their first 150 characters still get their own files.
    assert.equal(new Set(filesUnder(temp.config.imageRootDir)).size, ids.length)
    for (const id of ids) assert.equal(await store.delete(id), true)
    assert.deepEqual(filesUnder(temp.config.imageRootDir), [])
  })

  it('sweeps orphans in every dir folder, also one longer than 64 characters', async () => {
    const longDir = 'd'.repeat(200)
    await store.insert(`${longDir}:keep`, version(1))
    const orphan = path.join(temp.config.imageRootDir, longDir, 'gone.0123456789abcdef.pxs')
    writeFileSync(orphan, 'x')
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000)
    utimesSync(orphan, old, old)
    assert.equal(await store.sweepOrphans(), 1)
    assert.ok(!existsSync(orphan))
    assert.ok(await store.read(`${longDir}:keep`))
  })

  it('also sweeps periodically while open, and stops when closed', async () => {
    const periodic = new SqliteImageStore(temp.config.imageRootDir, temp.config.databasePath, { sweepIntervalMs: 20 })
    await periodic.open()
    try {
      const orphan = path.join(temp.config.imageRootDir, 'late.0123456789abcdef.pxs')
      writeFileSync(orphan, 'left by a crash while running')
      const old = new Date(Date.now() - 2 * 60 * 60 * 1000)
      utimesSync(orphan, old, old)
      for (let waited = 0; existsSync(orphan) && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.ok(!existsSync(orphan), 'swept without a restart')
    } finally {
      await periodic.close()
    }
  })

  it('reports a ciphertext file that is gone for good as missing: read, readStream and hasCiphertext', async () => {
    const row = await store.insert('lost', version(1))
    rmSync(path.join(temp.config.imageRootDir, row.file))
    await assert.rejects(store.read('lost'), (error) => error instanceof ImageDataMissingError && error.code === 'ERR_IMAGE_DATA_MISSING' && error.imageId === 'lost')
    await assert.rejects(store.readStream('lost'), /ciphertext file is missing/)
    assert.equal(await store.hasCiphertext('lost'), false)
    assert.ok(await store.get('lost'), 'get reads the metadata only')
    assert.equal(await store.has('lost'), true, 'the row is still there to update or delete')
  })

  it('deletes row and file together', async () => {
    await store.insert('gone', version(1))
    assert.equal(await store.delete('gone'), true)
    assert.equal(await store.has('gone'), false)
    assert.deepEqual(filesUnder(temp.config.imageRootDir), [])
    assert.equal(await store.delete('gone'), false)
  })

  it('refuses a stored file name that points outside the root', async () => {
    await store.insert('victim', version(1))
    const db = new Database(temp.config.databasePath)
    db.prepare("UPDATE pixstore_images SET file = '../../etc/passwd' WHERE id = 'victim'").run()
    db.close()
    await assert.rejects(store.read('victim'), /outside imageRootDir/)
  })
})

describe('PixstoreBackend storage rules', () => {
  let temp: ReturnType<typeof tempStore>
  let backend: PixstoreBackend
  beforeEach(() => {
    temp = tempStore()
    backend = new PixstoreBackend({ ...temp.config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'silent' })
  })
  afterEach(async () => {
    await backend.close()
    temp.cleanup()
  })

  it('refuses non-images and truncated junk with "Invalid image file", writing nothing', async () => {
    const png = readFixture(fixtureImages('png')[0]!)
    const junk: [string, Uint8Array][] = [
      ['not-an-image.txt', readFixture(path.join(FIXTURES, 'not-an-image.txt'))],
      ['truncated.png', readFixture(path.join(FIXTURES, 'truncated.png'))],
      ['the 6 bytes GIF89a', Buffer.from('GIF89a')],
      ['the 4 bytes FF D8 FF E0', Buffer.from([0xff, 0xd8, 0xff, 0xe0])],
      ['a PNG header followed by HTML', Buffer.concat([png.subarray(0, 33), Buffer.from('<html><script>alert(1)</script></html>')])],
      ['a whole PNG followed by HTML', Buffer.concat([png, Buffer.from('<html></html>')])],
      ['a PNG with one flipped byte', Buffer.from(png).fill(png[100]! ^ 0xff, 100, 101)],
      ['an empty buffer', Buffer.alloc(0)],
    ]
    // Every fixture cut short at a few points: each is still detected by its first bytes, and must be refused.
    for (const file of readdirSync(path.join(FIXTURES, 'images'))) {
      const bytes = readFixture(path.join(FIXTURES, 'images', file))
      for (const cut of [16, 40, Math.floor(bytes.length / 2), bytes.length - 1]) junk.push([`${file} cut to ${cut} bytes`, bytes.subarray(0, cut)])
    }
    for (const [name, bytes] of junk) {
      assert.equal(await backend.saveImage(bytes), null, name)
      assert.match(backend.lastError!.message, /Invalid image file/, name)
      assert.equal(backend.lastError!.code, 'ERR_INVALID_IMAGE', name)
    }
    assert.equal(await backend.saveImage('not a buffer' as unknown as Buffer), null)
    assert.deepEqual(filesUnder(temp.config.imageRootDir), [])
  })

  it('accepts every fixture as a complete image', async () => {
    for (const file of readdirSync(path.join(FIXTURES, 'images'))) {
      assert.ok(await backend.saveImage(readFixture(path.join(FIXTURES, 'images', file))), file)
    }
  })

  it('refuses formats outside imageFormats', async () => {
    const other = tempStore()
    const pngOnly = new PixstoreBackend({ ...other.config, statelessProofSecret: TEST_SECRET, imageFormats: ['png'], errorHandlingMode: 'silent' })
    try {
      assert.equal(await pngOnly.saveImage(readFixture(fixtureImages('gif')[0]!)), null)
      assert.match(pngOnly.lastError!.message, /Invalid image file: format "gif"/)
      assert.ok(await pngOnly.saveImage(readFixture(fixtureImages('png')[0]!)))
    } finally {
      await pngOnly.close()
      other.cleanup()
    }
  })

  it('never stores plaintext: no file contains the image bytes', async () => {
    const original = readFixture(fixtureImages('png')[0]!)
    await backend.saveImage(original)
    await backend.updateImage((await backend.saveImage(original))!.id, original)
    // Every 16-byte window at every 16th offset: a copy of any part of the image (a chunk, a header) is found.
    const windows = new Set<string>()
    for (let at = 0; at + 16 <= original.length; at += 16) windows.add(original.subarray(at, at + 16).toString('hex'))
    const containsImage = (bytes: Buffer) => {
      for (let at = 0; at + 16 <= bytes.length; at++) if (windows.has(bytes.subarray(at, at + 16).toString('hex'))) return true
      return false
    }
    // The whole store while it is open: the database, its WAL and shm, and every version file.
    const files = [temp.config.databasePath, `${temp.config.databasePath}-wal`, `${temp.config.databasePath}-shm`, ...filesUnder(temp.config.imageRootDir).map((file) => path.join(temp.config.imageRootDir, file))]
    const present = files.filter((file) => existsSync(file))
    assert.ok(present.includes(temp.config.databasePath) && present.includes(`${temp.config.databasePath}-wal`), `database and WAL searched: ${present.join(', ')}`)
    for (const file of present) assert.equal(containsImage(readFileSync(file)), false, file)
    // The search itself finds a copy of any piece of the image, unaligned.
    const middle = Math.floor(original.length / 3)
    assert.equal(containsImage(Buffer.concat([Buffer.from('xyz'), original.subarray(middle, middle + 40)])), true, `${original.length}-byte image`)
  })

  it('puts dir images in their folder and refuses a dir that could escape', async () => {
    const record = (await backend.saveImage(readFixture(fixtureImages('png')[0]!), 'students'))!
    assert.match(record.id, /^students:[A-Za-z0-9_-]{22}$/)
    assert.equal(filesUnder(temp.config.imageRootDir)[0]!.split(path.sep)[0], 'students')
    assert.equal(await backend.saveImage(readFixture(fixtureImages('png')[0]!), '../etc'), null)
    assert.match(backend.lastError!.message, /Invalid dir/)
  })

  it('refuses a dir that is not a string instead of turning it into one', async () => {
    const image = readFixture(fixtureImages('png')[0]!)
    for (const dir of [123, ['a'], null, { toString: () => 'a' }]) {
      assert.equal(await backend.saveImage(image, dir as unknown as string), null, `dir ${String(dir)}`)
      assert.match(backend.lastError!.message, /Invalid dir: expected a string/)
      assert.equal(backend.lastError!.code, 'ERR_INVALID_DIR')
    }
    assert.deepEqual(filesUnder(temp.config.imageRootDir), [])
  })

  it('refuses invalid ids in every call without touching the disk', async () => {
    const image = readFixture(fixtureImages('png')[0]!)
    assert.equal(await backend.updateImage('../x', image), null)
    assert.equal(await backend.deleteImage('../x'), null)
    assert.equal(await backend.getImageRecord('../x'), null)
    assert.equal(await backend.imageExists('../x'), false)
    assert.equal((await backend.customEndpointHelper('../x', null, backend.createStatelessProof('../x')))[0], PixstoreState.NotFound)
  })

  it('reports a missing source file as an expected error', async () => {
    assert.equal(await backend.saveImageFromFile('/nonexistent/pic.png'), null)
    assert.match(backend.lastError!.message, /Cannot read image file.*ENOENT/)
  })
})

interface TracedVersion {
  file: string
  dataSynced: boolean
  folderSynced: boolean
  newFolderNamed: boolean
  committed: boolean
}

/**
 * Reads an `strace -f` log: for every version file created under `root`,
 * whether its fdatasync and an fsync of its folder (and, for a folder made
 * for it, of the folder's parent) completed before the first write to
 * SQLite's WAL after it, the commit that makes a row point at it.
 */
function durabilityBeforeCommit(trace: string, root: string): TracedVersion[] {
  type Event = { kind: 'open' | 'mkdir' | 'walWrite'; path: string } | { kind: 'synced'; call: string; path: string }
  const events: Event[] = []
  const pathOfFd = new Map<string, string>()
  const unfinished = new Map<string, string>()
  for (const line of trace.split('\n')) {
    const [, pid, text] = /^(\d+)\s+(.*)$/.exec(line) ?? []
    if (!pid || !text) continue
    // A call another thread interrupted comes in two lines; join them, so it counts where it completed.
    if (text.endsWith(' <unfinished ...>')) {
      unfinished.set(pid, text.slice(0, -' <unfinished ...>'.length))
      continue
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(text)
    const call = resumed ? `${unfinished.get(pid) ?? ''}${resumed[1]}` : text
    const open = /^openat\(AT_FDCWD, "([^"]+)", ([A-Z_|]+)[^)]*\)\s+= (\d+)$/.exec(call)
    if (open) {
      pathOfFd.set(open[3]!, open[1]!)
      if (open[2]!.includes('O_CREAT') && open[1]!.endsWith('.pxs')) events.push({ kind: 'open', path: open[1]! })
    }
    const mkdir = /^mkdir\("([^"]+)", \d+\)\s+= 0$/.exec(call)
    if (mkdir) events.push({ kind: 'mkdir', path: mkdir[1]! })
    const write = /^pwrite64\((\d+),/.exec(call)
    if (write && pathOfFd.get(write[1]!)?.endsWith('-wal')) events.push({ kind: 'walWrite', path: pathOfFd.get(write[1]!)! })
    const sync = /^(fsync|fdatasync)\((\d+)\)\s+= 0$/.exec(call)
    if (sync) events.push({ kind: 'synced', call: sync[1]!, path: pathOfFd.get(sync[2]!) ?? '' })
  }
  const synced = (between: Event[], call: string, file: string) => between.some((e) => e.kind === 'synced' && e.call === call && e.path === file)
  return events.flatMap((event, at) => {
    if (event.kind !== 'open' || !event.path.startsWith(root)) return []
    const commit = events.findIndex((e, i) => i > at && e.kind === 'walWrite')
    const beforeCommit = events.slice(at, commit < 0 ? undefined : commit)
    const folder = path.dirname(event.path)
    const madeFolder = events.findIndex((e) => e.kind === 'mkdir' && e.path === folder)
    return {
      file: event.path,
      dataSynced: synced(beforeCommit, 'fdatasync', event.path),
      folderSynced: synced(beforeCommit, 'fsync', folder),
      newFolderNamed: madeFolder >= 0 && madeFolder < at && synced(events.slice(madeFolder, commit), 'fsync', path.dirname(folder)),
      committed: commit > at,
    }
  })
}
