import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { bytesToBase64 } from '../protocol/base64'
import { frameImage, imageFormatByName } from '../protocol/formats'
import type { ImageRecord } from '../protocol/record'
import { CHUNKED_RECORD_BYTES, SEALED_RECORD_BYTES } from '../protocol/chunked'
import { ChunkedState, encodeWireHead, encodeWirePayload, PixstoreState, type WirePayload } from '../protocol/wire'
import { encryptChunked } from '../server/chunkedCrypto'
import { createPixstoreApp, PixstoreBackend } from '../server/index'
import { maxAnswerBytes } from '../protocol/workerConfig'
import { fetchImage, type FetchedImage } from './fetchImage'
import { ProofTransports } from './proofTransport'
import { ImageFailure, type ImageFailureState } from './imageFailure'

/** The page's (and worker's) origin in these tests: the backend is always on another one. */
const PAGE_ORIGIN = 'http://app.example'

const fixture = (name: string) => Uint8Array.from(readFileSync(new URL(`../fixtures/images/${name}`, import.meta.url)))

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const close = (server: Server) => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })

/** The image a fetch gave: its bytes, or its stream read to the end. */
async function imageOf(fetched: FetchedImage): Promise<Uint8Array> {
  if (!fetched.stream) return new Uint8Array(fetched.image)
  return new Uint8Array(await new Response(fetched.stream as ReadableStream<Uint8Array<ArrayBuffer>>).arrayBuffer())
}

/** A streamed image read until it ends or errors: the bytes it passed, and its error (undefined when it ended). */
async function readUntilError(fetched: FetchedImage): Promise<{ passed: number; error: unknown }> {
  assert.ok(fetched.stream, 'streamed')
  const reader = fetched.stream.getReader()
  let passed = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { passed, error: undefined }
      passed += value.length
    }
  } catch (error) {
    return { passed, error }
  }
}

async function expectFailure(promise: Promise<unknown>, state: ImageFailureState) {
  await assert.rejects(promise, (error) => error instanceof ImageFailure && error.state === state && error.message.length > 0)
}

describe('fetchImage against the real backend', () => {
  let dir: string
  let backend: PixstoreBackend
  let server: Server
  let config: { backendOrigin: string; route: string }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pixstore-sw-test-'))
    backend = new PixstoreBackend({
      statelessProofSecret: 'sw-test-secret-0123456789abcdef0123',
      imageRootDir: path.join(dir, 'images'),
      databasePath: path.join(dir, 'pixstore.sqlite'),
    })
    server = createPixstoreApp(backend).listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    config = { backendOrigin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, route: '/pixstore-image' }
  })
  after(async () => {
    await close(server)
    backend.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('decrypts a stored image with the record (Success)', async () => {
    const png = fixture('sunset-gradient.png')
    const record = (await backend.saveImage(png))!
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    assert.equal(fetched.format.mimeType, 'image/png')
    assert.deepEqual(await imageOf(fetched), png)
    assert.equal(fetched.token, record.token)
    assert.equal(fetched.updatedMeta, null)
  })

  it('decrypts the newer version with the payload meta and token (Updated)', async () => {
    const record = (await backend.saveImage(fixture('pixel-heart.gif')))!
    const webp = fixture('color-tiles.webp')
    const updated = (await backend.updateImage(record.id, webp))!
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    assert.equal(fetched.format.mimeType, 'image/webp')
    assert.deepEqual(await imageOf(fetched), webp)
    assert.equal(fetched.token, updated.token)
    assert.equal(bytesToBase64(fetched.updatedMeta!.key), updated.meta.key)
  })

  it('reports NotFound, InvalidProof and an unreachable backend', async () => {
    const record = (await backend.saveImage(fixture('traffic-light.gif')))!
    await expectFailure(fetchImage(config, { ...record, statelessProof: 'forged-proof' }, config.backendOrigin), 'InvalidProof')
    await expectFailure(fetchImage(config, { ...record, statelessProof: 'forged-proof' }, PAGE_ORIGIN), 'InvalidProof')
    await backend.deleteImage(record.id)
    await expectFailure(fetchImage(config, record, PAGE_ORIGIN), 'NotFound')
    const stopped = createServer()
    const origin = await listen(stopped)
    await close(stopped)
    await expectFailure(fetchImage({ ...config, backendOrigin: origin }, record, PAGE_ORIGIN), 'BackendUnreachable')
  })
})

describe('fetchImage against a crafted backend', () => {
  const key = new Uint8Array(32).fill(7)
  const iv = new Uint8Array(12).fill(9)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const ciphertext = Uint8Array.from(Buffer.concat([cipher.update(frameImage(imageFormatByName('jpg')!, Uint8Array.of(0xff, 0xd8, 0xff))), cipher.final()]))
  const tag = Uint8Array.from(cipher.getAuthTag())
  const record: ImageRecord = { id: 'dir:abc', token: 41, meta: { key: bytesToBase64(key), iv: bytesToBase64(iv), tag: bytesToBase64(tag) }, statelessProof: 'proof-1' }

  let answer: { status: number; body: Uint8Array; type?: string } = { status: 200, body: new Uint8Array() }
  let seen: { url?: string; headers?: IncomingHttpHeaders } = {}
  const server = createServer((request, response) => {
    seen = { url: request.url, headers: request.headers }
    response.writeHead(answer.status, { 'Content-Type': answer.type ?? 'application/octet-stream' }).end(answer.body)
  })
  let config: { backendOrigin: string; route: string }
  const respond = (payload: WirePayload | Uint8Array, status = 200) => {
    answer = { status, body: payload instanceof Uint8Array ? payload : encodeWirePayload(payload) }
  }

  before(async () => {
    config = { backendOrigin: await listen(server), route: '/img/v1' }
  })
  after(() => close(server))

  it('asks a backend on another origin with proof and token in the query, no custom header (no preflight)', async () => {
    respond({ state: PixstoreState.Success, ciphertext })
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    assert.equal(seen.url, '/img/v1/dir:abc?pixstore-proof=proof-1&pixstore-token=41&pixstore-chunked=1')
    assert.equal(seen.headers?.['x-pixstore-proof'], undefined)
    assert.equal(seen.headers?.['x-pixstore-chunked'], undefined, 'no custom header: no preflight, and a 3.x CORS allow-list does not name it')
    assert.equal(seen.headers?.['x-pixstore-token'], undefined)
    assert.equal(seen.headers?.cookie, undefined)
    assert.deepEqual([...(await imageOf(fetched))], [0xff, 0xd8, 0xff])
  })

  it('asks a same-origin backend at {backendOrigin}{route}/{id} with the proof and decimal token headers', async () => {
    respond({ state: PixstoreState.Success, ciphertext })
    const fetched = await fetchImage(config, record, config.backendOrigin)
    assert.equal(seen.url, '/img/v1/dir:abc')
    assert.equal(seen.headers?.['x-pixstore-proof'], 'proof-1')
    assert.equal(seen.headers?.['x-pixstore-token'], '41')
    assert.equal(seen.headers?.['x-pixstore-chunked'], '1')
    assert.equal(seen.headers?.cookie, undefined)
    assert.equal(fetched.format.mimeType, 'image/jpeg')
    assert.deepEqual([...(await imageOf(fetched))], [0xff, 0xd8, 0xff])
  })

  it('names every failing backend answer', async () => {
    const cases: [WirePayload | Uint8Array, ImageFailureState, number?][] = [
      [{ state: PixstoreState.MissingProof }, 'MissingProof'],
      [{ state: PixstoreState.MissingID }, 'MissingID'],
      [{ state: PixstoreState.InternalError }, 'InternalError'],
      [Uint8Array.of(9), 'InvalidPayload'],
      [new Uint8Array(0), 'InvalidPayload'],
      [Uint8Array.of(PixstoreState.Updated, 1, 2, 3), 'InvalidPayload'],
      [{ state: PixstoreState.Success, ciphertext: ciphertext.map((b, i) => (i === 0 ? b ^ 1 : b)) }, 'DecryptionFailed'],
      [{ state: PixstoreState.Updated, token: 42, meta: { key, iv, tag: new Uint8Array(16) }, ciphertext }, 'DecryptionFailed'],
      [Uint8Array.from(Buffer.from('Invalid image id\n')), 'UnexpectedResponse', 400],
      [{ state: PixstoreState.Success, ciphertext }, 'UnexpectedResponse', 500],
    ]
    for (const [payload, state, status] of cases) {
      respond(payload, status)
      await expectFailure(fetchImage(config, record, PAGE_ORIGIN), state)
    }
  })

  it('names an answer that is no Pixstore payload: 404 EndpointNotFound with the URL, another type NotPixstore, another status UnexpectedResponse', async () => {
    const cases: [number, string, ImageFailureState][] = [
      [404, 'text/plain', 'EndpointNotFound'],
      [404, 'application/octet-stream', 'EndpointNotFound'],
      [200, 'text/html; charset=utf-8', 'NotPixstore'],
      [405, 'text/plain', 'UnexpectedResponse'],
      [503, 'text/html', 'UnexpectedResponse'],
    ]
    for (const [status, type, state] of cases) {
      answer = { status, type, body: Uint8Array.from(Buffer.from('<html>hello</html>')) }
      await assert.rejects(fetchImage(config, record, PAGE_ORIGIN), (error) => {
        assert.ok(error instanceof ImageFailure)
        assert.equal(error.state, state, `${status} ${type}`)
        assert.ok(error.message.includes(`${config.backendOrigin}/img/v1/dir:abc`), error.message)
        assert.ok(!error.message.includes('proof-1'), 'never the proof')
        return true
      })
    }
  })

  it('refuses a Success whose plaintext has no known format byte', async () => {
    const plain = createCipheriv('aes-256-gcm', key, iv)
    const unframed = Uint8Array.from(Buffer.concat([plain.update(Uint8Array.of(0, 1, 2)), plain.final()]))
    respond({ state: PixstoreState.Success, ciphertext: unframed })
    await expectFailure(fetchImage(config, { ...record, meta: { ...record.meta, tag: bytesToBase64(plain.getAuthTag()) } }, PAGE_ORIGIN), 'InvalidPayload')
  })
})

describe('proofTransport: a backend that reads only headers (as Pixstore 3.x)', () => {
  const key = new Uint8Array(32).fill(3)
  const iv = new Uint8Array(12).fill(4)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const ciphertext = Uint8Array.from(Buffer.concat([cipher.update(frameImage(imageFormatByName('png')!, Uint8Array.of(1, 2, 3))), cipher.final()]))
  const record: ImageRecord = { id: 'v3img', token: 7, meta: { key: bytesToBase64(key), iv: bytesToBase64(iv), tag: bytesToBase64(cipher.getAuthTag()) }, statelessProof: 'proof-3' }
  const seen: ('query' | 'headers')[] = []
  const urls: string[] = []
  const server = createServer((request, response) => {
    const inHeaders = request.headers['x-pixstore-proof'] === 'proof-3'
    seen.push(request.url!.includes('pixstore-proof=') ? 'query' : 'headers')
    urls.push(request.url!)
    // Pixstore 3.2.1's CORS allow-list names only the proof and token headers: a preflight for any other would fail.
    assert.equal(request.headers['x-pixstore-chunked'], undefined)
    response.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(encodeWirePayload(inHeaders ? { state: PixstoreState.Success, ciphertext } : { state: PixstoreState.MissingProof }))
  })
  let origin: string
  before(async () => {
    origin = await listen(server)
  })
  after(() => close(server))

  it("'auto': MissingProof to the query form, then headers; the backend gets headers from then on", async () => {
    seen.length = 0
    const transports = new ProofTransports()
    const config = { backendOrigin: origin, route: '/pixstore-image', proofTransport: 'auto' as const }
    assert.deepEqual([...(await imageOf(await fetchImage(config, record, PAGE_ORIGIN, transports)))], [1, 2, 3])
    assert.deepEqual(seen, ['query', 'headers'])
    // 3.2.1 reads everything after the route as the id: the headers form carries no query at all.
    assert.deepEqual(urls.slice(-1), ['/pixstore-image/v3img'])
    await fetchImage(config, record, PAGE_ORIGIN, transports)
    assert.deepEqual(seen, ['query', 'headers', 'headers'], 'remembered for this backend')
    await fetchImage({ ...config, backendOrigin: origin.replace('127.0.0.1', 'localhost') }, record, PAGE_ORIGIN, transports)
    assert.deepEqual(seen.slice(3), ['query', 'headers'], 'per backend origin')
  })

  it("'headers' sends headers only; 'query' never falls back (MissingProof stands)", async () => {
    seen.length = 0
    const config = { backendOrigin: origin, route: '/pixstore-image' }
    await fetchImage({ ...config, proofTransport: 'headers' }, record, PAGE_ORIGIN)
    assert.deepEqual(seen, ['headers'])
    await expectFailure(fetchImage({ ...config, proofTransport: 'query' }, record, PAGE_ORIGIN), 'MissingProof')
    assert.deepEqual(seen, ['headers', 'query'])
  })
})

describe('fetchImage: chunked answers', () => {
  const key = new Uint8Array(32).fill(5)
  const iv = new Uint8Array(12).fill(6)
  const RS = CHUNKED_RECORD_BYTES
  // Three records: the format byte and 2 records + 99 image bytes.
  const image = Uint8Array.from({ length: 2 * RS + 100 - 1 }, (_, i) => (i * 7) & 0xff)
  const plaintext = frameImage(imageFormatByName('png')!, image)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.update(plaintext)
  cipher.final()
  const record: ImageRecord = { id: 'big', token: 3, meta: { key: bytesToBase64(key), iv: bytesToBase64(iv), tag: bytesToBase64(cipher.getAuthTag()) }, statelessProof: 'proof-c' }
  const records = encryptChunked(key, iv, plaintext)
  let body: Uint8Array = new Uint8Array()
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body)
  })
  let config: { backendOrigin: string; route: string }
  before(async () => {
    config = { backendOrigin: await listen(server), route: '/pixstore-image' }
  })
  after(() => close(server))

  it('ChunkedSuccess: the image as a stream, with its length from Content-Length', async () => {
    body = Buffer.concat([Uint8Array.of(ChunkedState.ChunkedSuccess), records])
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    assert.ok(fetched.stream, 'streamed')
    assert.equal(fetched.length, image.length)
    assert.equal(fetched.format.mimeType, 'image/png')
    assert.equal(fetched.token, 3)
    assert.equal(fetched.updatedMeta, null)
    assert.deepEqual(await imageOf(fetched), image)
  })

  it('ChunkedUpdated: the new token and meta, records read with the new key and iv', async () => {
    const newKey = new Uint8Array(32).fill(8)
    const newIv = new Uint8Array(12).fill(1)
    const tag = new Uint8Array(16).fill(2)
    body = Buffer.concat([encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 4, meta: { key: newKey, iv: newIv, tag } }), encryptChunked(newKey, newIv, plaintext)])
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    assert.equal(fetched.token, 4)
    assert.deepEqual(fetched.updatedMeta, { key: newKey, iv: newIv, tag })
    assert.deepEqual(await imageOf(fetched), image)
  })

  it('a record that does not authenticate: the stream errors with DecryptionFailed after passing only the records before it', async () => {
    const tampered = Uint8Array.from(records)
    tampered[SEALED_RECORD_BYTES + 10]! ^= 1
    body = Buffer.concat([Uint8Array.of(ChunkedState.ChunkedSuccess), tampered])
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    const { passed, error } = await readUntilError(fetched)
    assert.ok(error instanceof ImageFailure && error.state === 'DecryptionFailed', String(error))
    assert.equal(passed, RS - 1, 'record 0 without its format byte, nothing of record 1 or after')
  })

  it('the first record does not authenticate: DecryptionFailed at once', async () => {
    const tampered = Uint8Array.from(records)
    tampered[3]! ^= 1
    body = Buffer.concat([Uint8Array.of(ChunkedState.ChunkedSuccess), tampered])
    await expectFailure(fetchImage(config, record, PAGE_ORIGIN), 'DecryptionFailed')
  })

  it('a payload cut after a record: the stream errors with DecryptionFailed', async () => {
    body = Buffer.concat([Uint8Array.of(ChunkedState.ChunkedSuccess), records.subarray(0, 2 * SEALED_RECORD_BYTES)])
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    await assert.rejects(imageOf(fetched), (error) => error instanceof ImageFailure && error.state === 'DecryptionFailed')
  })
})

describe('fetchImage: an answer longer than maxImageBytes allows (TooLarge)', () => {
  const key = new Uint8Array(32).fill(3)
  const iv = new Uint8Array(12).fill(4)
  /** The page's maxImageBytes in these tests: small, so a hostile answer passes it quickly. */
  const MAX_IMAGE = 64 * 1024
  // An image one record larger than maxImageBytes allows, in valid records: only the length gives it away.
  const plaintext = frameImage(imageFormatByName('png')!, Uint8Array.from({ length: MAX_IMAGE + CHUNKED_RECORD_BYTES }, (_, i) => (i * 5) & 0xff))
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.update(plaintext)
  cipher.final()
  const record: ImageRecord = { id: 'huge', token: 2, meta: { key: bytesToBase64(key), iv: bytesToBase64(iv), tag: bytesToBase64(cipher.getAuthTag()) }, statelessProof: 'proof-h' }
  const records = encryptChunked(key, iv, plaintext)

  type Answer = 'endless Success' | 'Success with a long Content-Length' | 'chunked, no Content-Length' | 'chunked within the limit'
  let answer: Answer = 'endless Success'
  /** Each request as it arrives: the body bytes the server got to write, and when its connection closed. */
  let arrived: (request: { written: () => number; closed: Promise<void> }) => void = () => {}
  const server = createServer((request, response) => {
    let written = 0
    const closed = new Promise<void>((resolve) => request.socket.on('close', () => resolve()))
    arrived({ written: () => written, closed })
    const write = (bytes: Uint8Array) => ((written += bytes.length), response.write(bytes))
    switch (answer) {
      case 'endless Success': {
        // A backend that never stops (no Content-Length): writes as fast as the client reads, until it goes away.
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' })
        write(Uint8Array.of(PixstoreState.Success))
        const chunk = new Uint8Array(16 * 1024).fill(0x55)
        const pump = () => {
          while (!response.destroyed && write(chunk));
          if (!response.destroyed) response.once('drain', pump)
        }
        response.on('close', () => response.removeAllListeners('drain'))
        pump()
        return
      }
      case 'Success with a long Content-Length':
        response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': 4 * MAX_IMAGE })
        write(Uint8Array.of(PixstoreState.Success))
        return
      case 'chunked, no Content-Length':
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' })
        write(Uint8Array.of(ChunkedState.ChunkedSuccess))
        write(records)
        response.end()
        return
      case 'chunked within the limit': {
        const fits = frameImage(imageFormatByName('png')!, plaintext.subarray(1, 1 + MAX_IMAGE))
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' })
        write(encodeWireHead({ state: ChunkedState.ChunkedUpdated, token: 9, meta: { key, iv, tag: new Uint8Array(16) } }))
        write(encryptChunked(key, iv, fits))
        response.end()
      }
    }
  })
  let config: { backendOrigin: string; route: string; maxImageBytes: number }
  before(async () => {
    config = { backendOrigin: await listen(server), route: '/pixstore-image', maxImageBytes: MAX_IMAGE }
  })
  after(() => close(server))

  const request = (which: Answer) => {
    answer = which
    return new Promise<{ written: () => number; closed: Promise<void> }>((resolve) => (arrived = resolve))
  }

  it('a Success that never ends: TooLarge once the limit passed, and the connection is closed', { timeout: 20_000 }, async () => {
    const reached = request('endless Success')
    await expectFailure(fetchImage(config, record, PAGE_ORIGIN), 'TooLarge')
    const { written, closed } = await reached
    await closed
    // What the socket buffers held beyond the limit, not what the backend could send.
    assert.ok(written() < maxAnswerBytes(MAX_IMAGE) + 8 * 1024 * 1024, `${written()} bytes written`)
  })

  it('a Content-Length beyond the limit: TooLarge before the body is read', { timeout: 20_000 }, async () => {
    const reached = request('Success with a long Content-Length')
    await expectFailure(fetchImage(config, record, PAGE_ORIGIN), 'TooLarge')
    await (await reached).closed
  })

  it('valid records of an image larger than maxImageBytes, without a length: the stream errors with TooLarge after the records within the limit', async () => {
    request('chunked, no Content-Length')
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    const { passed, error } = await readUntilError(fetched)
    assert.ok(error instanceof ImageFailure && error.state === 'TooLarge', String(error))
    assert.ok(passed <= MAX_IMAGE, `${passed} image bytes passed`)
  })

  it('an image of exactly maxImageBytes in the longest form (ChunkedUpdated) passes whole', async () => {
    request('chunked within the limit')
    const fetched = await fetchImage(config, record, PAGE_ORIGIN)
    assert.equal(fetched.token, 9)
    assert.deepEqual(await imageOf(fetched), plaintext.subarray(1, 1 + MAX_IMAGE))
  })
})

describe('fetchImage: an answer that stalls (idle timeout)', () => {
  const key = new Uint8Array(32).fill(11)
  const iv = new Uint8Array(12).fill(12)
  const plaintext = frameImage(imageFormatByName('png')!, Uint8Array.from({ length: 3 * CHUNKED_RECORD_BYTES }, (_, i) => (i * 3) & 0xff))
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const whole = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const record: ImageRecord = { id: 'stalled', token: 1, meta: { key: bytesToBase64(key), iv: bytesToBase64(iv), tag: bytesToBase64(cipher.getAuthTag()) }, statelessProof: 'p' }
  const records = encryptChunked(key, iv, plaintext)
  /** The idle time of these tests: short, and far longer than the steady answer's pauses. */
  const IDLE_MS = 1000

  type Answer = 'no head' | 'head, then nothing' | 'a record, then nothing' | 'steady, in small pieces'
  let answer: Answer = 'no head'
  let arrived: (request: { closed: Promise<void> }) => void = () => {}
  const server = createServer((request, response) => {
    arrived({ closed: new Promise((resolve) => request.socket.on('close', () => resolve())) })
    switch (answer) {
      case 'no head':
        return
      case 'head, then nothing':
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' }).write(Uint8Array.of(ChunkedState.ChunkedSuccess, 1, 2, 3))
        return
      case 'a record, then nothing':
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' })
        response.write(Uint8Array.of(ChunkedState.ChunkedSuccess))
        response.write(records.subarray(0, SEALED_RECORD_BYTES + 100))
        return
      case 'steady, in small pieces': {
        // A whole answer without a length (read as a stream), 2 KiB every 60 ms: longer in all than the idle time.
        const body = Buffer.concat([Uint8Array.of(PixstoreState.Success), whole])
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' })
        let at = 0
        const next = () => {
          if (response.destroyed) return
          if (at >= body.length) return void response.end()
          response.write(body.subarray(at, (at += 2048)))
          setTimeout(next, 60)
        }
        next()
      }
    }
  })
  let config: { backendOrigin: string; route: string }
  before(async () => {
    config = { backendOrigin: await listen(server), route: '/pixstore-image' }
  })
  after(() => close(server))

  const request = (which: Answer) => {
    answer = which
    return new Promise<{ closed: Promise<void> }>((resolve) => (arrived = resolve))
  }
  const stalled = (error: unknown) => error instanceof ImageFailure && error.state === 'BackendUnreachable' && /moved no byte for 1 s/.test(error.message)

  for (const which of ['no head', 'head, then nothing'] as const) {
    it(`${which}: BackendUnreachable once the idle time passed, and the connection is closed`, { timeout: 20_000 }, async () => {
      const reached = request(which)
      await assert.rejects(fetchImage(config, record, PAGE_ORIGIN, new ProofTransports(), undefined, IDLE_MS), stalled)
      await (await reached).closed
    })
  }

  it('a chunked answer that stops after a record: the stream passes that record, then errors with BackendUnreachable', { timeout: 20_000 }, async () => {
    const reached = request('a record, then nothing')
    const fetched = await fetchImage(config, record, PAGE_ORIGIN, new ProofTransports(), undefined, IDLE_MS)
    const { passed, error } = await readUntilError(fetched)
    assert.ok(stalled(error), String(error))
    assert.equal(passed, CHUNKED_RECORD_BYTES - 1, 'the first record without its format byte')
    await (await reached).closed
  })

  it('an answer that keeps moving is not cut, however long it takes in all', async () => {
    request('steady, in small pieces')
    const started = performance.now()
    const fetched = await fetchImage(config, record, PAGE_ORIGIN, new ProofTransports(), undefined, IDLE_MS)
    assert.deepEqual(await imageOf(fetched), plaintext.subarray(1))
    assert.ok(performance.now() - started > IDLE_MS, 'the answer took longer than one idle time')
  })
})

describe('fetchImage aborted (a logout)', () => {
  const record: ImageRecord = { id: 'silent', token: 1, meta: { key: bytesToBase64(new Uint8Array(32)), iv: bytesToBase64(new Uint8Array(12)), tag: bytesToBase64(new Uint8Array(16)) }, statelessProof: 'p' }
  /** Each request as it arrives, and when its connection closed. */
  let arrived: (request: { closed: Promise<void> }) => void = () => {}
  let answer: 'nothing' | 'head' = 'nothing'
  const server = createServer((request, response) => {
    arrived({ closed: new Promise((resolve) => request.socket.on('close', () => resolve())) })
    // The head and part of record 0, then nothing more: the first record never completes.
    if (answer === 'head') response.writeHead(200, { 'Content-Type': 'application/octet-stream' }).write(Uint8Array.of(ChunkedState.ChunkedSuccess, 1, 2, 3))
  })
  let config: { backendOrigin: string; route: string }
  before(async () => {
    config = { backendOrigin: await listen(server), route: '/pixstore-image' }
  })
  after(() => close(server))

  for (const when of ['nothing', 'head'] as const) {
    it(`fails with the abort's reason and closes the connection, when the backend sent ${when === 'nothing' ? 'no answer yet (no diagnosis probe)' : 'the head of a chunked answer'}`, { timeout: 20_000 }, async () => {
      answer = when
      const reached = new Promise<{ closed: Promise<void> }>((resolve) => (arrived = resolve))
      const abort = new AbortController()
      const fetching = fetchImage(config, record, PAGE_ORIGIN, new ProofTransports(), abort.signal)
      const { closed } = await reached
      const reason = new ImageFailure('NoRecord', 'logged out')
      abort.abort(reason)
      await assert.rejects(fetching, (error) => error === reason)
      await closed
    })
  }
})
