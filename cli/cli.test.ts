import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { PixstoreState } from '../protocol/wire'
import { PixstoreBackend } from '../server/backend'
import { createPixstoreApp } from '../server/http/koaMiddleware'
import type { SqliteImageStore } from '../server/stores/sqliteStore'
import { childPids } from '../testing/processTree'
import { pixstore } from '../testing/pixstoreCli'
import { writePixstore3Store, type V3Record } from '../testing/pixstoreV3'
import { fetchWire, fixtureImages, FIXTURES, openPayload, proofHeaders, readFixture, serve, tempStore, TEST_SECRET } from '../testing/testSupport'

/** A store the command and a test backend share. */
function sharedStore() {
  const temp = tempStore()
  const flags = ['--image-root-dir', temp.config.imageRootDir, '--database-path', temp.config.databasePath]
  const open = () => new PixstoreBackend({ ...temp.config, statelessProofSecret: TEST_SECRET, errorHandlingMode: 'throw' })
  return { ...temp, flags, open }
}

describe('pixstore import', () => {
  const store = sharedStore()
  after(store.cleanup)

  it('saves every image in the folders given, skips the rest with a reason, and exits 1', async () => {
    const run = await pixstore(['import', FIXTURES, '--dir', 'gallery', ...store.flags])
    assert.equal(run.code, 1, run.stderr)
    const images = readdirSync(path.join(FIXTURES, 'images'))
    assert.match(run.stdout, new RegExp(`Saved ${images.length} images \\(\\d+\\.\\d KB\\), skipped 3\\.`))
    assert.match(run.stdout, /skipped .*truncated\.png: Invalid image file: not a complete PNG image/)
    assert.match(run.stdout, /skipped .*not-an-image\.txt: Invalid image file/)
    assert.match(run.stdout, /skipped .*README\.md: Invalid image file/)
    assert.match(run.stderr, /\[16\/16\] /, 'plain progress lines when not on a terminal')
  })

  it('prints one JSON line per file with --json, exits 0 when all saved, and the images serve through the endpoint', async () => {
    const files = [...fixtureImages('avif'), ...fixtureImages('webp')]
    const run = await pixstore(['import', ...files, '--json', ...store.flags])
    assert.equal(run.code, 0, run.stderr)
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line))
    assert.equal(lines.length, files.length)
    const backend = store.open()
    const site = await serve(createPixstoreApp(backend))
    try {
      for (const [index, line] of lines.entries()) {
        assert.equal(line.status, 'saved')
        assert.equal(line.file, files[index])
        assert.equal(line.bytes, readFixture(files[index]!).length)
        assert.equal(line.meta, undefined, 'no keys printed')
        const record = (await backend.getImageRecord(line.id))!
        assert.equal(record.token, line.token)
        const { payload } = await fetchWire(site.url, line.id, proofHeaders(record))
        assert.deepEqual(openPayload(payload, record).image, readFixture(files[index]!))
      }
    } finally {
      await site.close()
      await backend.close()
    }
  })

  it('names the bad flag, env variable or config field, exits 2 and saves nothing', async () => {
    const bad: [string[], Record<string, string>, RegExp][] = [
      [['import', FIXTURES, '--bogus', 'x'], {}, /unknown option '--bogus'/],
      [['import', FIXTURES, '--dir', '../up'], {}, /--dir "\.\.\/up"/],
      [['import', FIXTURES, '--default-endpoint-listen-port', 'abc'], {}, /--default-endpoint-listen-port: expected a whole number/],
      [['import', FIXTURES, '--image-formats', 'png,bmp'], {}, /"imageFormats".*\(from --image-formats\)/],
      [['import', FIXTURES], { PIXSTORE_STATELESS_KEY_WINDOW_LENGTH: '0' }, /"statelessKeyWindowLength".*\(from PIXSTORE_STATELESS_KEY_WINDOW_LENGTH\)/],
      [['import'], {}, /missing required argument 'paths'/],
      [['import-v3', '--images', 'x'], {}, /required option '--database <pixstore3.sqlite>' not specified/],
      [['serve', '--workers', '0'], {}, /--workers \(or PIXSTORE_WORKERS\) must be "auto" or a whole number from 1 to 256, got "0"/],
      [['serve'], { PIXSTORE_WORKERS: 'two' }, /--workers \(or PIXSTORE_WORKERS\) must be .*got "two"/],
    ]
    const configFile = path.join(store.dir, 'config.json')
    writeFileSync(configFile, JSON.stringify({ imageRootDir: store.config.imageRootDir, imageFromats: ['png'] }))
    bad.push([['import', FIXTURES, '--config', configFile], {}, /Unknown config field "imageFromats"/])
    const badValue = path.join(store.dir, 'bad-value.json')
    writeFileSync(badValue, JSON.stringify({ defaultEndpointListenPort: 'x' }))
    bad.push([['serve', '--config', badValue], {}, new RegExp(`"defaultEndpointListenPort".*\\(from --config ${badValue.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`)])
    const backend = store.open()
    const before = await countImages(backend)
    await backend.close()
    for (const [args, env, message] of bad) {
      const run = await pixstore([...args, ...store.flags], env)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, message, args.join(' '))
    }
    const after = store.open()
    assert.equal(await countImages(after), before)
    await after.close()
  })

  it('prints help for each command', async () => {
    // Every command the program lists, so a new one is covered without editing this test.
    const overview = await pixstore(['--help'])
    const listed = [...overview.stdout.split(/\nCommands:\n/)[1]!.matchAll(/^ {2}([a-z][a-z0-9-]*)/gm)].map((match) => match[1]!).filter((name) => name !== 'help')
    for (const expected of ['import', 'import-v3', 'verify', 'serve', 'migrate', 'rekey']) assert.ok(listed.includes(expected), `${expected} in ${listed.join(', ')}`)
    for (const command of listed) {
      const run = await pixstore([command, '--help'])
      assert.equal(run.code, 0, command)
      assert.match(run.stdout, new RegExp(`Usage: pixstore ${command} `))
      // Each works on a store, so its help says where the store is (migrate names two: --from-… and --to-…).
      assert.match(run.stdout, command === 'migrate' ? /--from-image-root-dir.*\n(.*\n)*.*--to-image-root-dir/ : /--image-root-dir/, command)
    }
  })
})

describe('pixstore verify', () => {
  it('reports each image that no longer decrypts to a complete image, and exits 1', async () => {
    const store = sharedStore()
    const backend = store.open()
    try {
      const good = (await backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      const damaged = (await backend.saveImage(readFixture(fixtureImages('jpg')[0]!)))!
      assert.equal((await pixstore(['verify', ...store.flags])).code, 0)
      const { file } = (await (backend.store as SqliteImageStore).get(damaged.id))!
      const full = path.join(store.config.imageRootDir, file)
      const bytes = readFileSync(full)
      bytes[10]! ^= 0xff
      writeFileSync(full, bytes)
      const run = await pixstore(['verify', '--json', ...store.flags])
      assert.equal(run.code, 1)
      const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line))
      assert.deepEqual(lines.find((line) => line.id === good.id), { id: good.id, status: 'ok' })
      const failed = lines.find((line) => line.id === damaged.id)
      assert.equal(failed.status, 'failed')
      assert.match(failed.reason, /does not decrypt/)
      assert.match((await pixstore(['verify', ...store.flags])).stdout, /Verified 2 images: 1 ok, 1 failed\./)
    } finally {
      await backend.close()
      store.cleanup()
    }
  })
})

describe('pixstore serve', () => {
  it('serves the store until SIGTERM, then closes cleanly with exit code 0', async () => {
    const store = sharedStore()
    const backend = store.open()
    const record = (await backend.saveImage(readFixture(fixtureImages('gif')[0]!)))!
    await backend.close()
    let seen: Promise<void> | null = null
    const run = await pixstore(
      ['serve', '--default-endpoint-listen-host', '127.0.0.1', '--default-endpoint-listen-port', '0', ...store.flags],
      { PIXSTORE_SECRET: TEST_SECRET },
      (stdout, child) => {
        const url = /serving (http:\/\/[^/\s]+)/.exec(stdout)?.[1]
        if (!url || seen) return
        seen = fetchWire(url, record.id, proofHeaders(record)).then(({ payload }) => {
          assert.equal(payload.state, PixstoreState.Success)
          assert.deepEqual(openPayload(payload, record).image, readFixture(fixtureImages('gif')[0]!))
          child.kill('SIGTERM')
        })
      },
    )
    assert.ok(seen, run.stderr)
    await seen
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /stopped \(SIGTERM\)/)
    store.cleanup()
  })
})

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('pixstore serve --workers', () => {
  it('runs N processes on one port, replaces a worker that dies, and stops them all on SIGTERM', async () => {
    const store = sharedStore()
    const backend = store.open()
    const image = readFixture(fixtureImages('png')[0]!)
    const record = (await backend.saveImage(image))!
    await backend.close()
    let checked = null as Promise<number[]> | null
    const expectImage = async (url: string) => {
      const { payload } = await fetchWire(url, record.id, proofHeaders(record))
      assert.equal(payload.state, PixstoreState.Success)
      assert.deepEqual(openPayload(payload, record).image, image)
    }
    const run = await pixstore(
      ['serve', '--workers', '2', '--default-endpoint-listen-host', '127.0.0.1', '--default-endpoint-listen-port', '0', ...store.flags],
      { PIXSTORE_SECRET: TEST_SECRET },
      (stdout, child) => {
        const url = /serving (http:\/\/[^/\s]+)\/pixstore-image\/:id with 2 workers/.exec(stdout)?.[1]
        if (!url || checked) return
        checked = (async () => {
          const workers = childPids(child.pid!)
          assert.equal(workers.length, 2, `workers: ${workers.join(', ')}`)
          // Fresh connections, so the primary hands them to both workers in turn.
          await Promise.all(Array.from({ length: 8 }, () => expectImage(url)))
          process.kill(workers[0]!, 'SIGKILL')
          const replaced = await until('a replacement worker', () => {
            const now = childPids(child.pid!)
            return now.length === 2 && !now.includes(workers[0]!) && now
          })
          await Promise.all(Array.from({ length: 8 }, () => expectImage(url)))
          child.kill('SIGTERM')
          return [...workers, ...replaced]
        })()
      },
    )
    assert.ok(checked, run.stderr)
    const pids = await checked!
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /stopped \(SIGTERM\)/)
    assert.match(run.stderr, /worker \d+ exited \(SIGKILL\); starting another/)
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} still running`)
    store.cleanup()
  })

  it('without a secret or a KEK, hands every worker the same random secret and warns once about each, not once per worker', async () => {
    const store = sharedStore()
    const run = await pixstore(
      ['serve', '--workers', '2', '--default-endpoint-listen-host', '127.0.0.1', '--default-endpoint-listen-port', '0', ...store.flags],
      {},
      (stdout, child) => {
        if (/serving http/.test(stdout) && child.exitCode === null && !child.killed) child.kill('SIGTERM')
      },
    )
    try {
      assert.equal(run.code, 0, run.stderr)
      assert.equal(run.stderr.match(/the workers share a random secret/g)?.length, 1, run.stderr)
      assert.equal(run.stderr.match(/No keyEncryptionKey or PIXSTORE_KEY_ENCRYPTION_KEY set/g)?.length, 1, run.stderr)
      // A worker left to pick its own secret would say so, and its proofs would fail on the others.
      assert.doesNotMatch(run.stderr, /random per-process secret/)
    } finally {
      store.cleanup()
    }
  })

  it('stops with an error, not a restart loop, when the workers cannot listen', async () => {
    const store = sharedStore()
    const blocking = store.open()
    const blocker = await serve(createPixstoreApp(blocking))
    const port = new URL(blocker.url).port
    try {
      const run = await pixstore(['serve', '--workers', '2', '--default-endpoint-listen-host', '127.0.0.1', '--default-endpoint-listen-port', port, ...store.flags], { PIXSTORE_SECRET: TEST_SECRET })
      assert.equal(run.code, 1, run.stderr)
      assert.match(run.stderr, /a worker exited before it listened/)
    } finally {
      await blocker.close()
      await blocking.close()
      store.cleanup()
    }
  })
})

describe('pixstore migrate', () => {
  it('copies a store to another keeping ids, tokens and keys, and a rerun copies nothing', async () => {
    const [source, target] = [sharedStore(), sharedStore()]
    const backend = source.open()
    const record = (await backend.saveImage(readFixture(fixtureImages('webp')[0]!)))!
    await backend.close()
    const args = [
      'migrate',
      '--from-database-path', source.config.databasePath, '--from-image-root-dir', source.config.imageRootDir,
      '--to-database-path', target.config.databasePath, '--to-image-root-dir', target.config.imageRootDir,
    ]
    try {
      const first = await pixstore(args)
      assert.equal(first.code, 0, first.stderr)
      assert.match(first.stdout, /Migrated: 1 copied, 0 already there, 1 verified\./)
      assert.match((await pixstore(args)).stdout, /Migrated: 0 copied, 1 already there, 1 verified\./)
      const copy = target.open()
      assert.equal((await copy.customEndpointHelper(record.id, record.token, record.statelessProof))[0], PixstoreState.Success)
      await copy.close()
      const half = await pixstore(['migrate', '--from-database-path', source.config.databasePath, '--to-database-url', 'postgres://x@127.0.0.1:1/x'])
      assert.equal(half.code, 2)
      assert.match(half.stderr, /--from-database-path with --from-image-root-dir/)
    } finally {
      source.cleanup()
      target.cleanup()
    }
  })
})

describe('pixstore import-v3', () => {
  // A real Pixstore 3.x store, written by the published 3.2.1 package.
  const v3 = tempStore()
  const target = sharedStore()
  const v3Records: V3Record[] = []
  const v3Flags = ['--database', v3.config.databasePath, '--images', v3.config.imageRootDir]
  before(async () => {
    v3Records.push(...(await writePixstore3Store(v3.config, [...fixtureImages('png'), ...fixtureImages('jpg'), ...fixtureImages('webp')])))
  })
  after(() => {
    v3.cleanup()
    target.cleanup()
  })

  it('imports every 3.x image with its id, token and key: records apps hold still decrypt through the endpoint', async () => {
    assert.ok(v3Records.some((record) => record.id.includes(':')) && v3Records.length >= 8)
    const run = await pixstore(['import-v3', ...v3Flags, ...target.flags])
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout, new RegExp(`Imported ${v3Records.length}, already imported 0, failed 0\\.`))
    const backend = target.open()
    const site = await serve(createPixstoreApp(backend))
    try {
      for (const old of v3Records) {
        // What a page kept from 3.x: id, token and meta, plus a fresh proof from the new backend.
        const held = { id: old.id, token: old.token, meta: old.meta, statelessProof: backend.createStatelessProof(old.id) }
        const success = await fetchWire(site.url, old.id, proofHeaders(held))
        assert.equal(success.payload.state, PixstoreState.Success, 'same token: the held meta is still current')
        assert.deepEqual(openPayload(success.payload, held).image, readFixture(old.file))
        assert.equal((await backend.getImageRecord(old.id))!.token, old.token)
      }
    } finally {
      await site.close()
      await backend.close()
    }
  })

  it('imports nothing twice, and reports images that do not decrypt or whose file is gone', async () => {
    const again = await pixstore(['import-v3', ...v3Flags, ...target.flags])
    assert.equal(again.code, 0)
    assert.match(again.stdout, new RegExp(`Imported 0, already imported ${v3Records.length}, failed 0\\.`))

    // Two more 3.x images appear: one damaged on disk, one whose file is gone.
    const pixstore3 = await import('pixstore-v3/backend/index.js')
    const damaged = (await pixstore3.saveImageFromFile(fixtureImages('png')[0]!))!
    const lost = (await pixstore3.saveImageFromFile(fixtureImages('png')[1]!))!
    const damagedFile = path.join(v3.config.imageRootDir, `${damaged.id}.pixstore-image`)
    const bytes = readFileSync(damagedFile)
    bytes[5]! ^= 0xff
    writeFileSync(damagedFile, bytes)
    rmSync(path.join(v3.config.imageRootDir, `${lost.id}.pixstore-image`))

    const third = await pixstore(['import-v3', ...v3Flags, '--json', ...target.flags])
    assert.equal(third.code, 1)
    const lines = third.stdout.trim().split('\n').map((line) => JSON.parse(line))
    assert.equal(lines.filter((line) => line.status === 'already imported').length, v3Records.length)
    assert.match(lines.find((line) => line.id === damaged.id).reason, /does not decrypt/)
    assert.match(lines.find((line) => line.id === lost.id).reason, /Cannot read ciphertext file ".*": ENOENT/)
    const backend = target.open()
    assert.equal(await countImages(backend), v3Records.length, 'nothing imported twice, nothing broken imported')
    await backend.close()
  })

  it('refuses a database that is not a Pixstore 3.x one', async () => {
    const run = await pixstore(['import-v3', '--database', target.config.databasePath, '--images', v3.config.imageRootDir, ...target.flags])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /--database .*: not a Pixstore 3\.x database/)
  })
})

async function countImages(backend: PixstoreBackend): Promise<number> {
  let count = 0
  for await (const _ of backend.store.ids()) count++
  return count
}
