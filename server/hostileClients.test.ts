// Clients that misbehave on purpose: pipelined requests then a reset, sockets
// that never read, half-closed connections. Real server, real sockets, real
// SQLite; the server's own descriptors are counted in /proc/self/fd.
import assert from 'node:assert/strict'
import { readdirSync, readlinkSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { makePng } from '../testing/images'
import type { ImageRecord } from '../protocol/record'
import { backendOnPort } from '../testing/backendOnPort'
import { PixstoreState } from '../protocol/wire'
import { fetchWire, openFilesUnder, openPayload, proofHeaders, rawRequest } from '../testing/testSupport'

v8.setFlagsFromString('--expose-gc')
const collectGarbage = vm.runInNewContext('gc') as () => void


/** Polls `condition` each event-loop turn (and on I/O) until it holds; fails after a generous bound, never passes on time alone. */
async function eventually(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > limitMs) assert.fail(`still not true after ${limitMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}


const imageGet = (record: ImageRecord) =>
  `GET /pixstore-image/${record.id}?pixstore-proof=${encodeURIComponent(record.statelessProof)}&pixstore-token=${record.token} HTTP/1.1\r\nHost: x\r\n\r\n`

/** Connects, writes `count` pipelined GETs and resolves once the first answer bytes arrived (so the server is mid-answer). */
function pipelined(url: string, record: ImageRecord, count: number): Promise<Socket> {
  const { port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(imageGet(record).repeat(count)))
    socket.once('data', () => {
      socket.pause() // and read nothing more
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())))

for (const servedBy of ['default', 'koa'] as const) describe(`descriptors of streamed answers (${servedBy} path)`, () => {
  // 400 KB cache budget: a 3 MB image is streamed from its file.
  const env = backendOnPort({ memoryCacheBytes: 400 * 1024, errorHandlingMode: 'silent' }, { served: servedBy })
  const warnings: Error[] = []
  const onWarning = (warning: Error) => warnings.push(warning)
  let record: ImageRecord
  before(async () => {
    process.on('warning', onWarning)
    await env.start()
    record = (await env.backend.saveImage(makePng(3 * 1024 * 1024, 11)))!
  })
  after(async () => {
    process.off('warning', onWarning)
    await env.stop()
  })

  it('pipelined GETs then a reset mid-answer: every file is closed at once, no DEP0137 after a GC', async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => pipelined(env.url, record, 5)))
    const open = openFilesUnder(env.config.imageRootDir!)
    assert.ok(open > 0, 'the answers are streaming from their files')
    assert.ok(open <= sockets.length, `one file per connection at a time, not one per queued GET: ${open} open for ${sockets.length} connections`)
    for (const socket of sockets) socket.resetAndDestroy()
    await Promise.all(sockets.map(closed))
    await eventually(() => openFilesUnder(env.config.imageRootDir!) === 0, 'every version file closed')
    collectGarbage()
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(warnings.filter((warning) => /DEP0137|garbage collection/.test(`${(warning as { code?: string }).code} ${warning.message}`)), [])
    // And the server still serves.
    assert.deepEqual(openPayload((await fetchWire(env.url, record.id, proofHeaders(record))).payload, record).token, record.token)
  })

  it('half-closed after pipelined GETs (still connected, reading nothing): every file is closed', async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => pipelined(env.url, record, 5)))
    for (const socket of sockets) socket.end() // half-close: no more requests, the socket stays open
    await eventually(() => openFilesUnder(env.config.imageRootDir!) === 0, 'every version file closed')
    for (const socket of sockets) socket.destroy()
    collectGarbage()
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(warnings.filter((warning) => /DEP0137|garbage collection/.test(`${(warning as { code?: string }).code} ${warning.message}`)), [])
  })
})

for (const servedBy of ['default', 'koa'] as const) describe(`a #fragment in the request target (${servedBy} path)`, () => {
  const env = backendOnPort({ errorHandlingMode: 'silent' }, { served: servedBy })
  before(env.start)
  after(env.stop)

  it('is no part of the query: the same answer as without it', async () => {
    const record = (await env.backend.saveImage(makePng(2000, 3)))!
    const query = `?pixstore-proof=${encodeURIComponent(record.statelessProof)}&pixstore-token=${record.token}`
    const plain = await rawRequest(env.url, `/pixstore-image/${record.id}${query}`)
    const withFragment = await rawRequest(env.url, `/pixstore-image/${record.id}${query}#section-2`)
    assert.equal(plain.status, 200)
    assert.equal(plain.body[0], PixstoreState.Success)
    assert.deepEqual(withFragment, plain)
  })
})

for (const [servedBy, body] of [['default', 'whole'], ['default', 'streamed'], ['koa', 'whole']] as const) describe(`responseTimeout: a client that never reads (${servedBy} path, ${body} body)`, () => {
  // 12 MB: more than loopback socket buffers take, so the answer stalls for real. Cache big enough to hold it whole, or none.
  const env = backendOnPort({ responseTimeout: 1000, memoryCacheBytes: body === 'whole' ? 64 * 1024 * 1024 : 0, errorHandlingMode: 'silent' }, { served: servedBy })
  let record: ImageRecord
  before(async () => {
    await env.start()
    record = (await env.backend.saveImage(makePng(12 * 1024 * 1024, 12)))!
  })
  after(env.stop)

  it('is disconnected by the server, files closed, and the next client is served', async () => {
    const serverSockets: Socket[] = []
    const server = env.server
    const onConnection = (socket: Socket) => serverSockets.push(socket)
    server.on('connection', onConnection)
    try {
      const client = await pipelined(env.url, record, 3)
      await eventually(() => serverSockets.length === 1, 'the server has the connection')
      // Generous: the timeout is 1 s; a server without one never closes it.
      await eventually(() => serverSockets[0]!.destroyed, 'the server closed the stalled connection', 30_000)
      await eventually(() => openFilesUnder(env.config.imageRootDir!) === 0, 'no version file open')
      client.destroy()
      const { payload } = await fetchWire(env.url, record.id, proofHeaders(record))
      assert.equal(openPayload(payload, record).token, record.token)
    } finally {
      server.off('connection', onConnection)
    }
  })
})
