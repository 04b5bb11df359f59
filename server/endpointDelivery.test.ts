// How the endpoint delivers ciphertext: the in-memory cache, streaming, query
// credentials, size limits. Real Koa server on a real port, real SQLite.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { makePng } from '../testing/images'
import { encodeImageMeta, type ImageRecord } from '../protocol/record'
import { decodeWirePayload, PixstoreState } from '../protocol/wire'
import { backendOnPort } from '../testing/backendOnPort'
import { fetchWire, fixtureImages, openFilesUnder, openPayload, proofHeaders, readFixture } from '../testing/testSupport'


const queryFor = (record: ImageRecord, token: number | null = record.token) =>
  `?pixstore-proof=${encodeURIComponent(record.statelessProof)}${token === null ? '' : `&pixstore-token=${token}`}`

async function fetchQuery(url: string, record: ImageRecord, query = queryFor(record), headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/pixstore-image/${record.id}${query}`, { headers })
  return { response, payload: decodeWirePayload(new Uint8Array(await response.arrayBuffer())) }
}

for (const servedBy of ['default', 'koa'] as const) describe(`proof and token as query parameters (${servedBy} path)`, () => {
  const env = backendOnPort({ accessControlAllowOrigin: ['http://app.example'], errorHandlingMode: 'silent' }, { served: servedBy })
  before(env.start)
  after(env.stop)

  it('mean exactly what the headers mean', async () => {
    const original = readFixture(fixtureImages('png')[0]!)
    const record = (await env.backend.saveImage(original))!
    const success = await fetchQuery(env.url, record)
    assert.equal(success.payload.state, PixstoreState.Success)
    assert.deepEqual(openPayload(success.payload, record).image, original)
    const updated = await fetchQuery(env.url, record, queryFor(record, null))
    assert.equal(updated.payload.state, PixstoreState.Updated)
    assert.deepEqual(openPayload(updated.payload, record).image, original)
    assert.equal((await fetchQuery(env.url, record, '?pixstore-token=1')).payload.state, PixstoreState.MissingProof)
    assert.equal((await fetchQuery(env.url, record, '?pixstore-proof=forged')).payload.state, PixstoreState.InvalidProof)
    const other = (await env.backend.saveImage(original))!
    assert.equal((await fetchQuery(env.url, record, queryFor(other))).payload.state, PixstoreState.InvalidProof, "another id's proof")
  })

  it('agreeing with the headers is fine; disagreeing is InvalidProof', async () => {
    const record = (await env.backend.saveImage(readFixture(fixtureImages('gif')[0]!)))!
    const other = (await env.backend.saveImage(readFixture(fixtureImages('gif')[0]!)))!
    assert.equal((await fetchQuery(env.url, record, queryFor(record), proofHeaders(record))).payload.state, PixstoreState.Success)
    const forgedHeader = { ...proofHeaders(record), 'x-pixstore-proof': other.statelessProof }
    assert.equal((await fetchQuery(env.url, record, queryFor(record), forgedHeader)).payload.state, PixstoreState.InvalidProof)
    const otherToken = { ...proofHeaders(record), 'x-pixstore-token': String(record.token + 1) }
    assert.equal((await fetchQuery(env.url, record, queryFor(record), otherToken)).payload.state, PixstoreState.InvalidProof)
  })

  it('answers carry Referrer-Policy: no-referrer, also errors', async () => {
    const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
    for (const target of [`/pixstore-image/${record.id}${queryFor(record)}`, '/pixstore-image/..%2Fx', '/pixstore-image/']) {
      const response = await fetch(`${env.url}${target}`)
      await response.arrayBuffer()
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', target)
    }
  })

  it('allows only the configured origin, and says it varies by Origin', async () => {
    const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
    const url = `${env.url}/pixstore-image/${record.id}${queryFor(record)}`
    const allowed = await fetch(url, { headers: { Origin: 'http://app.example' } })
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://app.example')
    assert.match(allowed.headers.get('vary') ?? '', /Origin/)
    await allowed.arrayBuffer()
    const other = await fetch(url, { headers: { Origin: 'http://evil.example' } })
    assert.equal(other.headers.get('access-control-allow-origin'), null)
    await other.arrayBuffer()
  })

  it('HEAD gives the headers of the GET and no body', async () => {
    const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
    const head = await fetch(`${env.url}/pixstore-image/${record.id}${queryFor(record)}`, { method: 'HEAD' })
    const get = await fetch(`${env.url}/pixstore-image/${record.id}${queryFor(record)}`)
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), get.headers.get('content-length'))
    assert.equal((await head.arrayBuffer()).byteLength, 0)
    assert.equal((await get.arrayBuffer()).byteLength, Number(get.headers.get('content-length')))
  })
})

describe('ciphertext cache and streaming', () => {
  // 400 KB budget: at most 100 KB per entry, so the 1 MB image below is streamed from its file.
  const env = backendOnPort({ memoryCacheBytes: 400 * 1024, errorHandlingMode: 'silent' })
  before(env.start)
  after(env.stop)

  it('serves repeated requests, then the new version after an update, then NotFound after delete', async () => {
    const first = readFixture(fixtureImages('png')[0]!)
    const second = readFixture(fixtureImages('jpg')[0]!)
    const record = (await env.backend.saveImage(first))!
    for (let i = 0; i < 3; i++) assert.deepEqual(openPayload((await fetchWire(env.url, record.id, proofHeaders(record))).payload, record).image, first)
    const newer = (await env.backend.updateImage(record.id, second))!
    const stale = await fetchWire(env.url, record.id, proofHeaders(record))
    assert.equal(stale.payload.state, PixstoreState.Updated)
    assert.deepEqual(openPayload(stale.payload, record).image, second)
    assert.deepEqual(openPayload((await fetchWire(env.url, record.id, proofHeaders(newer))).payload, newer).image, second)
    assert.equal(await env.backend.deleteImage(record.id), true)
    assert.equal((await fetchWire(env.url, record.id, proofHeaders(newer))).payload.state, PixstoreState.NotFound, 'no cached answer after delete')
  })

  it('never serves a wrong version while another process updates the same store', async () => {
    const versions = [...fixtureImages('png'), ...fixtureImages('jpg'), ...fixtureImages('gif')]
    let record = (await env.backend.saveImage(readFixture(versions[0]!)))!
    const originals = new Set(versions.map((file) => readFixture(file).toString('base64')))
    const updater = fileURLToPath(new URL('../testing/testChildren/updateLoop.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', updater, JSON.stringify(env.config), record.id, '30', ...versions], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    let childDone = false
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    void exited.then(() => (childDone = true))
    const tokensSeen = new Set<number>()
    let reads = 0
    while (!childDone || reads < 50) {
      const { payload } = await fetchWire(env.url, record.id, proofHeaders(record))
      const opened = openPayload(payload, record) // throws when ciphertext and meta do not match
      assert.ok(originals.has(opened.image.toString('base64')), 'one of the saved pictures')
      if (payload.state === PixstoreState.Updated) record = { ...record, token: payload.token, meta: encodeImageMeta(payload.meta) }
      tokensSeen.add(record.token)
      reads++
    }
    assert.equal(await exited, 0)
    const lines = output.trim().split('\n')
    assert.equal(lines.length, 30)
    const last = JSON.parse(lines.at(-1)!) as ImageRecord
    const final = await fetchWire(env.url, last.id, proofHeaders(last))
    assert.equal(final.payload.state, PixstoreState.Success, 'the last committed version is what this process serves')
    assert.ok(tokensSeen.size > 1, `saw ${tokensSeen.size} versions in ${reads} reads`)
  })

  it('streams an image too big for the cache, and a slow reader keeps its version through an update', async () => {
    const big = makePng(3 * 1024 * 1024, 7)
    const replacement = readFixture(fixtureImages('gif')[0]!)
    const record = (await env.backend.saveImage(big))!
    assert.deepEqual(openPayload((await fetchWire(env.url, record.id, proofHeaders(record))).payload, record).image, big)
    // Read the head, stall, update (its file is removed), then read the rest.
    const response = await fetch(`${env.url}/pixstore-image/${record.id}${queryFor(record)}`)
    assert.equal(Number(response.headers.get('content-length')), big.length + 2)
    const reader = response.body!.getReader()
    const chunks: Uint8Array[] = [(await reader.read()).value!]
    // Streamed: the answer holds its version file open while the client stalls (a whole read would have
    // closed it), and no 3 MB buffer counts against the cache's budget.
    assert.equal(openFilesUnder(env.config.imageRootDir!), 1, 'the version file is open for the answer')
    assert.ok(chunks[0]!.length < big.length, 'only part of it has arrived')
    await env.backend.updateImage(record.id, replacement)
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) chunks.push(chunk.value)
    const payload = decodeWirePayload(Buffer.concat(chunks))
    assert.deepEqual(openPayload(payload, record).image, big, 'the version the answer started with, whole')
  })

  it('with memoryCacheBytes 0 every answer comes from storage, still correct', async () => {
    const uncached = backendOnPort({ memoryCacheBytes: 0, errorHandlingMode: 'silent' })
    await uncached.start()
    try {
      const original = readFixture(fixtureImages('webp')[0]!)
      const record = (await uncached.backend.saveImage(original))!
      for (let i = 0; i < 2; i++) assert.deepEqual(openPayload((await fetchWire(uncached.url, record.id, proofHeaders(record))).payload, record).image, original)
      const customBytes = await uncached.backend.customEndpointHelper(record.id, record.token, record.statelessProof)
      assert.deepEqual(openPayload(decodeWirePayload(customBytes), record).image, original)
    } finally {
      await uncached.stop()
    }
  })
})

describe('maxImageBytes', () => {
  const env = backendOnPort({ maxImageBytes: 1000, errorHandlingMode: 'silent' })
  before(env.start)
  after(env.stop)

  it('refuses a bigger save or update with an error naming the limit, and writes nothing', async () => {
    const big = makePng(5000, 3)
    assert.equal(await env.backend.saveImage(big), null)
    assert.match(env.backend.lastError!.message, /maxImageBytes.*1000/)
    const file = path.join(env.config.imageRootDir!, '..', 'big.png')
    writeFileSync(file, big)
    assert.equal(await env.backend.saveImageFromFile(file), null)
    assert.match(env.backend.lastError!.message, /maxImageBytes/)
    assert.deepEqual(readdirSync(env.config.imageRootDir!), [])
    const small = readFixture(fixtureImages('gif')[0]!)
    assert.ok(small.length <= 1000, 'fixture fits the limit')
    const record = (await env.backend.saveImage(small))!
    assert.equal(await env.backend.updateImage(record.id, big), null)
    assert.match(env.backend.lastError!.message, /maxImageBytes/)
    assert.deepEqual(openPayload((await fetchWire(env.url, record.id, proofHeaders(record))).payload, record).image, small, 'old version intact')
  })
})
