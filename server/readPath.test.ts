// The read path under concurrency: versions never go backwards, and memory
// held for answers stays within memoryCacheBytes. Real server, real SQLite,
// a second real process writing.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { makePng } from '../testing/images'
import { PixstoreState, decodeWirePayload } from '../protocol/wire'
import { PixstoreBackend } from './backend'
import { createDefaultEndpointServer } from './http/defaultServer'
import { serve, testConfig } from '../testing/testSupport'
import { Agent, request } from 'node:http'
import { writeFileSync } from 'node:fs'
import path from 'node:path'

describe('no downgrade', () => {
  const { config, cleanup } = testConfig()
  const backend = new PixstoreBackend({ ...config, errorHandlingMode: 'throw' })
  let site: Awaited<ReturnType<typeof serve>>
  before(async () => void (site = await serve(createDefaultEndpointServer(backend))))
  after(async () => {
    await site.close()
    await backend.close()
    cleanup()
  })

  it('a whole read in flight for an older version does not answer a client that holds a newer one', async () => {
    const record = (await backend.saveImage(makePng(30_000, 21)))!
    // Hold the first read of the real store after it read version 1, until version 2 is committed and asked for.
    const store = backend.store
    const read = store.read.bind(store)
    let started!: () => void
    const readStarted = new Promise<void>((resolve) => (started = resolve))
    let releaseFirst!: () => void
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve))
    let calls = 0
    // The held read is let go once the newer request looked its version up: it then either shares it (the bug) or reads its own.
    const get = store.get.bind(store)
    let newerAsked = false
    store.get = async (id) => {
      const image = await get(id)
      if (newerAsked) setImmediate(releaseFirst)
      return image
    }
    store.read = async (id) => {
      const result = await read(id)
      if (calls++ === 0) {
        started()
        await firstMayFinish
      }
      return result
    }
    try {
      const query = (token: number) => `?pixstore-proof=${encodeURIComponent(record.statelessProof)}&pixstore-token=${token}`
      const older = fetch(`${site.url}/pixstore-image/${record.id}${query(record.token)}`).then((response) => response.arrayBuffer())
      await readStarted
      const newer = (await backend.updateImage(record.id, makePng(31_000, 22)))!
      newerAsked = true
      const newerAnswer = fetch(`${site.url}/pixstore-image/${record.id}${query(newer.token)}`).then((response) => response.arrayBuffer())
      const payload = decodeWirePayload(new Uint8Array(await newerAnswer))
      assert.equal(payload.state, PixstoreState.Success, `the client holding token ${newer.token} got state ${payload.state}${payload.state === PixstoreState.Updated ? ` with token ${payload.token}` : ''}`)
      assert.equal(decodeWirePayload(new Uint8Array(await older)).state, PixstoreState.Success)
    } finally {
      releaseFirst()
      store.read = read
      store.get = get
    }
  })

  it('an Updated answer never carries an older version than the token the client sent: 0 in 30,000 answers under 1 update every 20 ms', async () => {
    // Distinct images of a few KB: whole reads, cached, and each update a new version to read.
    const files = Array.from({ length: 4 }, (_, i) => {
      const file = path.join(config.imageRootDir!, '..', `v${i}.png`)
      writeFileSync(file, makePng(20_000 + i * 5000, i + 1))
      return file
    })
    const first = (await backend.saveImage(makePng(20_000, 9)))!
    const updater = fileURLToPath(new URL('../testing/testChildren/updateLoop.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', updater, JSON.stringify(config), first.id, '100000', ...files], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, UPDATE_EVERY_MS: '20' },
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    // Clients also get fresh records from the app (getImageRecord after an update): the updater prints each one.
    let latestRecordToken = first.token
    let pending = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n')
      pending = lines.pop()!
      for (const line of lines) latestRecordToken = Math.max(latestRecordToken, (JSON.parse(line) as { token: number }).token)
    })
    const agent = new Agent({ keepAlive: true, maxSockets: 32 })
    const { port } = new URL(site.url)
    const ask = (token: number) =>
      new Promise<Buffer>((resolve, reject) => {
        const req = request({ agent, port, host: '127.0.0.1', path: `/pixstore-image/${first.id}?pixstore-proof=${encodeURIComponent(backend.createStatelessProof(first.id))}&pixstore-token=${token}` }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve(Buffer.concat(chunks)))
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end()
      })
    let answers = 0
    let updated = 0
    const downgrades: string[] = []
    const client = async () => {
      let token = first.token
      while (answers < 30_000) {
        token = Math.max(token, latestRecordToken)
        const payload = decodeWirePayload(new Uint8Array(await ask(token)))
        answers++
        if (payload.state === PixstoreState.Updated) {
          updated++
          if (payload.token < token) downgrades.push(`${token} -> ${payload.token}`)
          token = payload.token
        } else {
          assert.equal(payload.state, PixstoreState.Success)
        }
      }
    }
    try {
      await Promise.all(Array.from({ length: 24 }, client))
    } finally {
      child.kill()
      await exited
      agent.destroy()
    }
    assert.ok(updated > 100, `the clients saw the updates (${updated} Updated answers)`)
    assert.deepEqual(downgrades, [], `${downgrades.length} downgrades in ${answers} answers`)
  })
})
