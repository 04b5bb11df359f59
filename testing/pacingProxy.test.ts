import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { SEGMENT_BYTES, startPacingProxy, type PacingProxy, type ProxiedAnswer } from './pacingProxy'

/** What rewriteBody's tests check of an answer's log (its method, arrival time and end are other tests' business). */
const logged = (answer: ProxiedAnswer | undefined) => {
  assert.ok(answer)
  const { path, firstByte, rewritten, error } = answer
  return Object.fromEntries(Object.entries({ path, firstByte, rewritten, error }).filter(([, value]) => value !== undefined))
}

describe('pacingProxy', () => {
  const body = Buffer.from(Uint8Array.from({ length: 300_000 }, (_, i) => i & 0xff))
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, 'x-path': request.url }).end(body)
  })
  let proxy: PacingProxy
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    proxy = await startPacingProxy({ target: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
  })
  after(async () => {
    await proxy.close()
    server.closeAllConnections()
    server.close()
  })

  it('holds a matching answer at exactly the byte count, then passes the rest unchanged on release', async () => {
    proxy.holdAt(100_000, (path) => path === '/big')
    const received: Buffer[] = []
    let length = 0
    const response = await new Promise<http.IncomingMessage>((resolve) => http.get(`${proxy.origin}/big`, resolve))
    assert.equal(response.headers['content-length'], String(body.length))
    assert.equal(response.headers['x-path'], '/big')
    const ended = new Promise<void>((resolve) => response.on('end', resolve))
    const reachedHold = new Promise<void>((resolve) =>
      response.on('data', (chunk: Buffer) => {
        received.push(chunk)
        length += chunk.length
        if (length === 100_000) resolve()
      }),
    )
    await proxy.held()
    await reachedHold
    assert.equal(proxy.passed, 100_000)
    proxy.holdAt(250_000, (path) => path === '/big')
    await proxy.held()
    assert.equal(proxy.passed, 250_000)
    proxy.release()
    await ended
    assert.equal(length, body.length)
    assert.ok(Buffer.concat(received).equals(body))
  })

  it('records how each answer ended: finished, or closed by the client while held (nothing more sent then)', async () => {
    const first = proxy.answers.length
    const whole = await new Promise<http.IncomingMessage>((resolve) => http.get(`${proxy.origin}/whole`, resolve))
    for await (const _ of whole);
    proxy.holdAt(proxy.passed + 50_000, (path) => path === '/cut')
    const request = http.get(`${proxy.origin}/cut`)
    const cut = await new Promise<http.IncomingMessage>((resolve) => request.on('response', resolve))
    cut.on('error', () => {})
    request.on('error', () => {})
    cut.resume()
    await proxy.held()
    const passed = proxy.passed
    const closed = new Promise<void>((resolve) => cut.on('close', resolve))
    request.destroy()
    await closed
    await waitUntil(() => proxy.answers[first + 1]?.end !== undefined)
    proxy.release()
    assert.deepEqual(
      proxy.answers.slice(first).map(({ path, end }) => ({ path, end })),
      [
        { path: '/whole', end: 'finished' },
        { path: '/cut', end: 'closed' },
      ],
    )
    // After the release nothing more left for the closed answer.
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(proxy.passed, passed)
  })

  it('paces a body a segment at a time: never ahead of the rate by more than one segment', async () => {
    // 7,300 bytes per second, 5 segments: after the head, the client may hold about 730 bytes per 100 ms. A
    // proxy that sent 16 KiB pieces gave 16 KiB at once. The bound is generous (a second of the rate and a
    // segment): a busy machine only makes the client read less, never more, in a given time.
    const paced = await startPacingProxy({ target: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bytesPerSecond: 7300 })
    try {
      const response = await new Promise<http.IncomingMessage>((resolve) => http.get(`${paced.origin}/paced`, resolve))
      const start = performance.now()
      let length = 0
      response.on('data', (chunk: Buffer) => (length += chunk.length))
      await new Promise((resolve) => setTimeout(resolve, 100))
      const elapsed = performance.now() - start
      assert.ok(length > 0, 'the first segment leaves at once')
      assert.ok(length <= 7300 * (elapsed / 1000 + 1) + SEGMENT_BYTES, `${length} bytes after ${elapsed.toFixed(0)} ms`)
      response.destroy()
    } finally {
      await paced.close()
    }
  })

  it('does not hold answers the hold does not match', async () => {
    proxy.holdAt(10, (path) => path === '/other')
    const response = await new Promise<http.IncomingMessage>((resolve) => http.get(`${proxy.origin}/big`, resolve))
    const chunks: Buffer[] = []
    for await (const chunk of response) chunks.push(chunk as Buffer)
    assert.ok(Buffer.concat(chunks).equals(body))
    proxy.release()
  })
  it('rewriteBody sends another body in a matching answer with its own Content-Length, then stops', async () => {
    const get = async (path: string) => {
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`${proxy.origin}${path}`, resolve).on('error', reject))
      const chunks: Buffer[] = []
      for await (const chunk of response) chunks.push(chunk as Buffer)
      return { headers: response.headers, body: Buffer.concat(chunks) }
    }
    let seen: Buffer | null = null
    proxy.rewriteBody(
      (original) => ((seen = original), Buffer.concat([original.subarray(0, 1000), Buffer.from('tail')])),
      (path) => path === '/big',
    )
    const rewritten = await get('/big')
    assert.ok(seen !== null && (seen as Buffer).equals(body), 'the rewrite got the whole server body')
    assert.equal(rewritten.headers['content-length'], '1004')
    assert.equal(rewritten.headers['x-path'], '/big', 'the other headers pass unchanged')
    assert.ok(rewritten.body.equals(Buffer.concat([body.subarray(0, 1000), Buffer.from('tail')])))
    assert.deepEqual(logged(proxy.answers.at(-1)), { path: '/big', firstByte: body[0], rewritten: true })

    const other = await get('/other')
    assert.ok(other.body.equals(body), 'an answer the rewrite does not match passes unchanged')
    assert.deepEqual(logged(proxy.answers.at(-1)), { path: '/other', firstByte: body[0] })

    proxy.rewriteBody(() => {
      throw new Error('no such record')
    })
    await assert.rejects(get('/big'), 'a rewrite that throws cuts the answer off')
    assert.deepEqual(logged(proxy.answers.at(-1)), { path: '/big', error: 'no such record' })

    proxy.rewriteBody(null)
    assert.ok((await get('/big')).body.equals(body), 'after rewriteBody(null) the body passes unchanged')
  })
})

/** Waits for a condition another I/O event makes true (each turn of the event loop, no timer). */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve))
}
