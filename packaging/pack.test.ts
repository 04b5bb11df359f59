// The package as a new user gets it: `npm pack`, install the tarball into a
// fresh app, type-check a consumer (and the README's snippets) under nodenext
// and bundler resolution, run it, and run the installed `pixstore` command.
// Needs `npm run build` first (npm test does it).
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { freePort } from '../testing/freePort'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CONSUMER = path.join(ROOT, 'packaging/consumer')
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc')
const FIXTURE = path.join(ROOT, 'fixtures/images/sunset-gradient.png')

const tsconfig = (resolution: 'nodenext' | 'bundler', files: string[], outDir?: string) => ({
  compilerOptions: {
    target: 'ES2022',
    module: resolution === 'nodenext' ? 'nodenext' : 'esnext',
    moduleResolution: resolution,
    lib: ['ES2022', 'DOM'],
    strict: true,
    // Check our declarations too: with skipLibCheck a broken .d.ts would quietly turn every type into `any`.
    skipLibCheck: false,
    ...(outDir ? { outDir } : { noEmit: true }),
  },
  files,
})

/** `attempt` until it succeeds (a server starting up), for at most 20 s. */
async function poll<T>(attempt: () => Promise<T>, log: () => string): Promise<T> {
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      return await attempt()
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`gave up: ${error}\n${log()}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

/** Every ```ts block of the README, each as its own module. */
function readmeSnippets(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)
}

describe('the npm package, installed into a fresh app', () => {
  let work: string
  let app: string
  let tarball: string

  before(async () => {
    assert.ok(existsSync(path.join(ROOT, 'dist/server/index.d.ts')), 'dist/ is missing: run `npm run build` first')
    work = mkdtempSync(path.join(tmpdir(), 'pixstore-pack-'))
    app = path.join(work, 'app')
    mkdirSync(app)
    // dist/ is already built; --ignore-scripts keeps prepack from building it again.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT })
    tarball = path.join(work, JSON.parse(stdout)[0].filename)
    const sqliteVersion = createRequire(import.meta.url)('better-sqlite3/package.json').version as string
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({
        name: 'pixstore-consumer',
        private: true,
        type: 'module',
        dependencies: { pixstore: `file:${tarball}`, koa: '^3.0.0', '@koa/router': '^15.0.0' },
        // The native addon is the one piece not under test; pin the version this checkout built.
        overrides: { 'better-sqlite3': sqliteVersion },
      }),
    )
    await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: app, timeout: 300_000 })
    // Reuse the addon `npm ci` compiled for this checkout instead of compiling it again (minutes on a small machine).
    const addon = 'better-sqlite3/build/Release/better_sqlite3.node'
    mkdirSync(path.dirname(path.join(app, 'node_modules', addon)), { recursive: true })
    copyFileSync(path.join(ROOT, 'node_modules', addon), path.join(app, 'node_modules', addon))
    for (const file of readdirSync(CONSUMER)) copyFileSync(path.join(CONSUMER, file), path.join(app, file))
    readmeSnippets().forEach((snippet, index) => writeFileSync(path.join(app, `readme${index + 1}.ts`), snippet))
  })
  after(() => work && rmSync(work, { recursive: true, force: true }))

  it('ships bundled declarations, a LICENSE and no source maps or internal declarations', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball])
    const files = stdout.trim().split('\n').map((file) => file.replace(/^package\//, ''))
    assert.ok(files.includes('LICENSE'))
    assert.match(readFileSync(path.join(app, 'node_modules/pixstore/LICENSE'), 'utf8'), /^MIT License/)
    assert.deepEqual(files.filter((file) => file.endsWith('.map')), [])
    assert.deepEqual(files.filter((file) => file.endsWith('.d.ts')).sort(), ['dist/page/index.d.ts', 'dist/protocol/index.d.ts', 'dist/server/index.d.ts'])
    assert.ok(files.includes('dist/cli/index.js'))
  })

  for (const resolution of ['nodenext', 'bundler'] as const) {
    it(`type-checks the consumer and every README snippet under moduleResolution ${resolution}, with no extra installs`, async () => {
      const snippets = readmeSnippets().map((_, index) => `readme${index + 1}.ts`)
      assert.ok(snippets.length >= 2, 'the README has its backend and page snippets')
      writeFileSync(path.join(app, `tsconfig.${resolution}.json`), JSON.stringify(tsconfig(resolution, ['consumer.ts', ...snippets])))
      await run(process.execPath, [TSC, '-p', `tsconfig.${resolution}.json`], { cwd: app }).catch((error) => assert.fail(error.stdout || error.message))
    })
  }

  it('refuses to compile a misspelt config field under nodenext, with or without skipLibCheck', async () => {
    for (const skipLibCheck of [false, true]) {
      const config = tsconfig('nodenext', ['wrongConfig.ts'])
      writeFileSync(path.join(app, 'tsconfig.wrong.json'), JSON.stringify({ ...config, compilerOptions: { ...config.compilerOptions, skipLibCheck } }))
      const failed = await run(process.execPath, [TSC, '-p', 'tsconfig.wrong.json'], { cwd: app }).then(
        () => null,
        (error) => error as { stdout: string },
      )
      assert.ok(failed, `a wrong config field compiled (skipLibCheck ${skipLibCheck})`)
      assert.match(failed.stdout, /wrongConfig\.ts.*error TS2561: .*'imageRootDri'/)
      assert.equal(failed.stdout.trim().split('\n').length, 1, `only that error:\n${failed.stdout}`)
    }
  })

  it('runs: saves an image and reads it back through the endpoint', async () => {
    writeFileSync(path.join(app, 'tsconfig.build.json'), JSON.stringify(tsconfig('nodenext', ['consumer.ts'], 'out')))
    await run(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: app })
    const { stdout } = await run(process.execPath, ['out/consumer.js', FIXTURE, path.join(work, 'data')], { cwd: app })
    const result = JSON.parse(stdout)
    assert.match(result.id, /^avatars:/)
    assert.deepEqual(result, { id: result.id, format: 'png', same: true })
  })

  it("runs the README's backend snippet as written: its API hands out records that load through the endpoint", async () => {
    const backendSnippet = readmeSnippets().findIndex((snippet) => snippet.includes("from 'pixstore/backend'"))
    assert.ok(backendSnippet >= 0, 'the README has a backend snippet')
    writeFileSync(path.join(app, 'tsconfig.readme.json'), JSON.stringify(tsconfig('nodenext', [`readme${backendSnippet + 1}.ts`], 'readme-out')))
    await run(process.execPath, [TSC, '-p', 'tsconfig.readme.json'], { cwd: app })
    const dir = mkdtempSync(path.join(work, 'readme-app-'))
    copyFileSync(FIXTURE, path.join(dir, 'avatar.png'))
    const [apiPort, imagePort] = [await freePort(), await freePort()]
    const child = spawn(process.execPath, [path.join(app, `readme-out/readme${backendSnippet + 1}.js`)], {
      cwd: dir,
      env: { ...process.env, PORT: String(apiPort), PIXSTORE_PORT: String(imagePort), PIXSTORE_SECRET: 'readme-secret-readme-secret-readme-secret' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    try {
      const me = await poll(async () => (await fetch(`http://127.0.0.1:${apiPort}/api/me`)).json() as Promise<{ avatar: { id: string; token: number; statelessProof: string } }>, () => stderr)
      assert.match(me.avatar.id, /^avatars:/)
      const fresh = (await (await fetch(`http://127.0.0.1:${apiPort}/api/pixstore-records?ids=${me.avatar.id},unknown-id`)).json()) as { id: string }[]
      assert.deepEqual(fresh.map((record) => record.id), [me.avatar.id], 'the refresh endpoint answers the known id only')
      const image = await fetch(`http://127.0.0.1:${imagePort}/pixstore-image/${me.avatar.id}?pixstore-proof=${encodeURIComponent(me.avatar.statelessProof)}&pixstore-token=${me.avatar.token}`)
      const wire = new Uint8Array(await image.arrayBuffer())
      assert.equal(wire[0], 0, 'Success: the record from the API opens the image at the endpoint')
      assert.equal(wire.length, readFileSync(FIXTURE).length + 2, 'state byte + ciphertext of [format byte][image]')
    } finally {
      child.kill()
    }
  })

  it('needs no pg for SQLite, and says which package to install when databaseUrl is set without it', async () => {
    assert.equal(existsSync(path.join(app, 'node_modules/pg')), false, 'pg is an optional peer dependency: not installed for the app')
    const script = path.join(app, 'no-pg.mjs')
    writeFileSync(
      script,
      `import { PixstoreBackend } from 'pixstore/backend'
const backend = new PixstoreBackend({ databaseUrl: 'postgres://user@127.0.0.1:1/db', statelessProofSecret: '${'s'.repeat(32)}' })
try { await backend.open(); console.log('opened') } catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })) } finally { await backend.close() }`,
    )
    const { stdout } = await run(process.execPath, [script], { cwd: app })
    const failure = JSON.parse(stdout.trim().split('\n').pop()!)
    assert.equal(failure.code, 'ERR_CONFIG')
    assert.match(failure.message, /needs the PostgreSQL client package "pg": install it \(npm install pg\)/)
  })

  it('installs the pixstore command', async () => {
    const bin = path.join(app, 'node_modules/.bin/pixstore')
    const help = await run(bin, ['--help'], { cwd: app })
    assert.match(help.stdout, /import-v3/)
    const data = path.join(work, 'cli-data')
    const imported = await run(bin, ['import', FIXTURE, '--json', '--image-root-dir', `${data}/images`, '--database-path', `${data}/db.sqlite`], { cwd: app })
    assert.equal(JSON.parse(imported.stdout).status, 'saved')
  })
})
