// The commands against hostile input: file names that try to forge output,
// folders they may not read, devices where images should be, oversized
// images. Real processes, real files, real SQLite.
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { makePng } from '../testing/images'
import { PixstoreBackend } from '../server/backend'
import { fixtureImages, TEST_SECRET, tempStore } from '../testing/testSupport'
import { migrateStore } from './migrate'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TEST_KEK = '11'.repeat(32)

/** The real `pixstore` command; as `user` (via runuser) when given, so permissions apply even when tests run as root. */
function pixstore(args: string[], user?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const command = [process.execPath, '--import', 'tsx', path.join(ROOT, 'cli/index.ts'), ...args]
  const [file, argv] = user ? ['runuser', ['-u', user, '--', ...command]] : [command[0]!, command.slice(1)]
  return new Promise((resolve, reject) => {
    // A KEK, so the no-KEK warning is not among the lines the tests count.
    const child = spawn(file, argv, { cwd: ROOT, env: { PATH: process.env.PATH!, HOME: tmpdir(), PIXSTORE_KEY_ENCRYPTION_KEY: TEST_KEK } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const storeFlags = (config: { imageRootDir: string; databasePath: string }) => ['--image-root-dir', config.imageRootDir, '--database-path', config.databasePath]
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/

describe('pixstore import with hostile input', () => {
  it('escapes control characters of file names in progress lines and the summary; --json stays one JSON line per file', async () => {
    const temp = tempStore()
    try {
      const folder = path.join(temp.dir, 'in')
      mkdirSync(folder)
      const forged = 'a\n[2] forged.png: saved'
      const colour = '\x1b[31mred\x1b[0m\u009b2J'
      copyFileSync(fixtureImages('png')[0]!, path.join(folder, `${forged}.png`))
      writeFileSync(path.join(folder, `${colour}.png`), 'not an image')
      const run = await pixstore(['import', folder, ...storeFlags(temp.config)])
      assert.equal(run.code, 1, run.stderr)
      for (const output of [run.stdout, run.stderr]) assert.doesNotMatch(output, RAW_CONTROL, 'no raw control character reaches the terminal')
      const progress = run.stderr.trim().split('\n')
      assert.equal(progress.length, 2, `one line per file: ${JSON.stringify(progress)}`)
      assert.ok(progress.some((line) => line.includes('a\\n[2] forged.png: saved.png: saved')), progress.join('|'))
      assert.ok(run.stdout.includes('\\x1b[31mred\\x1b[0m\\x9b2J.png'), run.stdout)
      assert.equal(run.stdout.trim().split('\n').length, 2, 'summary plus one skipped line')

      const json = await pixstore(['import', folder, '--json', ...storeFlags(temp.config)])
      assert.doesNotMatch(json.stdout, RAW_CONTROL)
      const lines = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { file: string })
      assert.deepEqual(lines.map((line) => path.basename(line.file)).sort(), [`${colour}.png`, `${forged}.png`].sort(), 'the names survive JSON exactly')
    } finally {
      temp.cleanup()
    }
  })

  it('skips an unreadable sub-folder as one entry and imports the rest', async () => {
    // Permissions do not stop root: as root the command runs as nobody, on a store nobody may write.
    const asRoot = userInfo().uid === 0
    const dir = mkdtempSync(path.join(tmpdir(), 'pixstore-unreadable-'))
    chmodSync(dir, 0o777)
    try {
      const folder = path.join(dir, 'in')
      mkdirSync(path.join(folder, 'locked'), { recursive: true })
      mkdirSync(path.join(folder, 'open'))
      copyFileSync(fixtureImages('png')[0]!, path.join(folder, 'open', 'a.png'))
      copyFileSync(fixtureImages('gif')[0]!, path.join(folder, 'z.gif'))
      copyFileSync(fixtureImages('jpg')[0]!, path.join(folder, 'locked', 'hidden.jpg'))
      chmodSync(folder, 0o755)
      chmodSync(path.join(folder, 'locked'), 0o000)
      const store = path.join(dir, 'store')
      mkdirSync(store)
      chmodSync(store, 0o777)
      const run = await pixstore(['import', folder, '--json', '--image-root-dir', path.join(store, 'images'), '--database-path', path.join(store, 'db.sqlite')], asRoot ? 'nobody' : undefined)
      assert.equal(run.code, 1, run.stderr)
      const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { file: string; status: string; reason?: string })
      assert.deepEqual(lines.map((line) => [path.relative(folder, line.file), line.status]), [['locked', 'skipped'], ['open/a.png', 'saved'], ['z.gif', 'saved']])
      assert.match(lines[0]!.reason!, /cannot read this folder \(EACCES\)/)
    } finally {
      chmodSync(path.join(dir, 'in', 'locked'), 0o755)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a FIFO, a symlink to /dev/zero and a file over maxImageBytes as skipped entries, at once', { timeout: 60_000 }, async () => {
    const temp = tempStore()
    try {
      const folder = path.join(temp.dir, 'in')
      mkdirSync(folder)
      symlinkSync('/dev/zero', path.join(folder, 'zero.png'))
      execFileSync('mkfifo', [path.join(folder, 'pipe.png')])
      writeFileSync(path.join(folder, 'big.png'), makePng(20_000, 2))
      copyFileSync(fixtureImages('gif')[0]!, path.join(folder, 'small.gif'))
      const run = await pixstore(['import', folder, '--json', '--max-image-bytes', '10000', ...storeFlags(temp.config)])
      const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { file: string; status: string; reason?: string })
      const byName = Object.fromEntries(lines.map((line) => [path.basename(line.file), line]))
      assert.equal(byName['small.gif']!.status, 'saved')
      assert.equal(byName['zero.png']!.status, 'skipped')
      assert.equal(byName['pipe.png']!.status, 'skipped')
      assert.match(byName['big.png']!.reason!, /too large.*10000/)
    } finally {
      temp.cleanup()
    }
  })
})

describe('pixstore import-v3 with hostile input', () => {
  it('refuses a ciphertext path that is a symlink to /dev/zero, or bigger than maxImageBytes + 1, naming the file', { timeout: 60_000 }, async () => {
    const temp = tempStore()
    try {
      const images = path.join(temp.dir, 'v3images')
      mkdirSync(images)
      const v3 = new Database(path.join(temp.dir, 'v3.sqlite'))
      v3.exec('CREATE TABLE image_records (id TEXT PRIMARY KEY, token INTEGER, meta TEXT)')
      const meta = JSON.stringify({ key: Buffer.alloc(32).toString('base64'), iv: Buffer.alloc(12).toString('base64'), tag: Buffer.alloc(16).toString('base64') })
      v3.prepare('INSERT INTO image_records VALUES (?, ?, ?)').run('zero', 1, meta)
      v3.prepare('INSERT INTO image_records VALUES (?, ?, ?)').run('huge', 2, meta)
      v3.close()
      symlinkSync('/dev/zero', path.join(images, 'zero.pixstore-image'))
      writeFileSync(path.join(images, 'huge.pixstore-image'), Buffer.alloc(5000))
      const run = await pixstore(['import-v3', '--database', path.join(temp.dir, 'v3.sqlite'), '--images', images, '--json', '--max-image-bytes', '1000', ...storeFlags(temp.config)])
      assert.equal(run.code, 1, run.stderr)
      const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; status: string; reason: string })
      const byId = Object.fromEntries(lines.map((line) => [line.id, line]))
      assert.match(byId.zero!.reason, /zero\.pixstore-image.*a device, not a regular file/)
      assert.match(byId.huge!.reason, /huge\.pixstore-image.*5000 bytes.*1001/)
    } finally {
      temp.cleanup()
    }
  })
})

describe('migrate and maxImageBytes', () => {
  it('stops at an image over the limit before reading it, copying nothing of it', async () => {
    const [from, to] = [tempStore(), tempStore()]
    try {
      const source = new PixstoreBackend({ ...from.config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'throw' }, { env: {} })
      const big = (await source.saveImage(makePng(30_000, 5)))!
      await source.close()
      await assert.rejects(migrateStore({ from: from.config, to: to.config, maxImageBytes: 10_000 }), new RegExp(`image ${big.id} has \\d+ bytes, more than maxImageBytes \\(10000\\)`))
      const target = new PixstoreBackend({ ...to.config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'throw' }, { env: {} })
      assert.equal(await target.imageExists(big.id), false)
      await target.close()
      assert.deepEqual(await migrateStore({ from: from.config, to: to.config, maxImageBytes: 100_000 }), { copied: 1, skipped: 0, verified: 1 })
    } finally {
      from.cleanup()
      to.cleanup()
    }
  })
})
