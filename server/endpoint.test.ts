import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { PixstoreState } from '../protocol/wire'
import { PixstoreBackend } from './backend'
import { backendOnPort, hostApp } from '../testing/backendOnPort'
import type { SqliteImageStore } from './stores/sqliteStore'
import { fetchWire, fixtureImages, openPayload, proofHeaders, rawExchange, rawRequest, readFixture, serve, STORE_KINDS } from '../testing/testSupport'

const MIME = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' } as const




for (const kind of STORE_KINDS) {
  describe(`GET /pixstore-image/:id (${kind} store)`, () => {
    const env = backendOnPort({}, { kind })
    before(env.start)
    after(env.stop)

    for (const [extension, mimeType] of Object.entries(MIME)) {
      it(`round-trips every ${extension} fixture: save, fetch with proof, decrypt, same bytes`, async () => {
        for (const file of fixtureImages(extension)) {
          const original = readFixture(file)
          const record = (await env.backend.saveImage(original))!
          assert.ok(record, `saveImage(${file})`)

          const updated = await fetchWire(env.url, record.id, proofHeaders(record, false))
          assert.equal(updated.payload.state, PixstoreState.Updated, 'no token → Updated')
          const fromUpdated = openPayload(updated.payload, record)
          assert.deepEqual(fromUpdated.image, original)
          assert.equal(fromUpdated.mimeType, mimeType)
          assert.equal(fromUpdated.token, record.token)

          const success = await fetchWire(env.url, record.id, proofHeaders(record))
          assert.equal(success.payload.state, PixstoreState.Success, 'current token → Success')
          assert.deepEqual(openPayload(success.payload, record).image, original)
        }
      })
    }

    it('answers with octet-stream, no-store and CORS on every state', async () => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      for (const headers of [proofHeaders(record), {}, { 'x-pixstore-proof': 'forged' }]) {
        const { response } = await fetchWire(env.url, record.id, headers)
        assert.equal(response.status, 200)
        assert.equal(response.headers.get('content-type'), 'application/octet-stream')
        assert.equal(response.headers.get('cache-control'), 'no-store')
        assert.equal(response.headers.get('access-control-allow-origin'), '*')
      }
    })

    it('gives Updated with the new token and key after updateImage, and the new picture', async () => {
      const [first, second] = [readFixture(fixtureImages('png')[0]!), readFixture(fixtureImages('jpg')[0]!)]
      const record = (await env.backend.saveImage(first))!
      const newer = (await env.backend.updateImage(record.id, second))!
      assert.ok(newer.token > record.token)
      assert.notEqual(newer.meta.key, record.meta.key)
      const stale = await fetchWire(env.url, record.id, proofHeaders(record))
      assert.equal(stale.payload.state, PixstoreState.Updated)
      const opened = openPayload(stale.payload, record)
      assert.equal(opened.token, newer.token)
      assert.deepEqual(opened.image, second)
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(newer))).payload.state, PixstoreState.Success)
    })

    it('keeps tokens strictly increasing for back-to-back updates', async () => {
      const image = readFixture(fixtureImages('gif')[0]!)
      const record = (await env.backend.saveImage(image))!
      const tokens = [record.token]
      for (let i = 0; i < 20; i++) tokens.push((await env.backend.updateImage(record.id, image))!.token)
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `token ${i} increases`)
    })

    it('gives NotFound after deleteImage, and for unknown ids with a valid proof', async () => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('webp')[0]!)))!
      assert.equal(await env.backend.deleteImage(record.id), true)
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.NotFound)
      assert.equal(await env.backend.deleteImage(record.id), false)
      const ghost = 'never-saved'
      const { payload } = await fetchWire(env.url, ghost, { 'x-pixstore-proof': env.backend.createStatelessProof(ghost) })
      assert.equal(payload.state, PixstoreState.NotFound)
    })

    it('gives MissingProof without a proof and InvalidProof for a forged or foreign one', async () => {
      const [a, b] = [(await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!, (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!]
      assert.equal((await fetchWire(env.url, a.id, { 'x-pixstore-token': String(a.token) })).payload.state, PixstoreState.MissingProof)
      assert.equal((await fetchWire(env.url, a.id, { 'x-pixstore-proof': '' })).payload.state, PixstoreState.MissingProof)
      assert.equal((await fetchWire(env.url, a.id, { 'x-pixstore-proof': 'A'.repeat(43) })).payload.state, PixstoreState.InvalidProof)
      assert.equal((await fetchWire(env.url, a.id, { 'x-pixstore-proof': b.statelessProof })).payload.state, PixstoreState.InvalidProof, "another image's proof")
      // The proof is checked before the id is looked up, so ids cannot be probed.
      assert.equal((await fetchWire(env.url, 'unknown', { 'x-pixstore-proof': 'A'.repeat(43) })).payload.state, PixstoreState.InvalidProof)
    })

    it('gives MissingID from customEndpointHelper without an id', async () => {
      assert.deepEqual(await env.backend.customEndpointHelper('', null, 'x'), Uint8Array.of(PixstoreState.MissingID))
      assert.deepEqual(await env.backend.customEndpointHelper(undefined, null, 'x'), Uint8Array.of(PixstoreState.MissingID))
    })

    it('treats a token header that is not a decimal integer as no token', async () => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      for (const token of ['abc', '-1', '1e3', `${record.token}.0`, ' ', '99999999999999999999', `0x${record.token.toString(16)}`]) {
        const { payload } = await fetchWire(env.url, record.id, { 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': token })
        assert.equal(payload.state, PixstoreState.Updated, `token ${JSON.stringify(token)}`)
      }
    })

    it('handles repeated headers without crashing: a doubled proof is invalid, a doubled token is no token', async () => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      const proof = `x-pixstore-proof: ${record.statelessProof}`
      const token = `x-pixstore-token: ${record.token}`
      const doubledProof = await rawRequest(env.url, `/pixstore-image/${record.id}`, [proof, proof, token])
      assert.equal(doubledProof.status, 200)
      assert.deepEqual([...doubledProof.body], [PixstoreState.InvalidProof])
      const doubledToken = await rawRequest(env.url, `/pixstore-image/${record.id}`, [proof, token, token])
      assert.equal(doubledToken.body[0], PixstoreState.Updated)
    })

    it('answers HTTP 400 for a missing, malformed, overlong or path-like id, and keeps serving', async () => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      const bad = ['', '/', '/%E0%A4%A', `/${'a'.repeat(257)}`, '/a.b', '/..%2F..%2Fetc%2Fpasswd', '/%2e%2e', '/a/b', '/a%00b', '/a:b:c', '/%ZZ']
      for (const suffix of bad) {
        const response = await rawRequest(env.url, `/pixstore-image${suffix}`, [`x-pixstore-proof: ${record.statelessProof}`])
        assert.equal(response.status, 400, `GET /pixstore-image${suffix}`)
        assert.match(response.body.toString(), /image id/)
      }
      const { payload } = await fetchWire(env.url, record.id, proofHeaders(record))
      assert.equal(payload.state, PixstoreState.Success, 'a good request right after the malformed ones')
    })

    it('logs nothing for malformed client requests (bad chunked bodies) on either entry, and keeps serving', async (t) => {
      const logged = t.mock.method(console, 'error', () => {})
      // The default endpoint (env.url: the direct listener) and pixstoreMiddleware mounted in a host app of its own.
      const mounted = await serve(hostApp(env.backend))
      for (const url of [env.url, mounted.url]) {
        const { port } = new URL(url)
        const badChunk = () =>
          new Promise<void>((resolve) => {
            const socket = connect(Number(port), '127.0.0.1', () =>
              socket.end('GET /pixstore-image/abc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n'),
            )
            socket.resume()
            socket.on('close', () => resolve())
            socket.on('error', () => resolve())
          })
        for (let batch = 0; batch < 20; batch++) await Promise.all(Array.from({ length: 30 }, badChunk))
        assert.equal(logged.mock.callCount(), 0, `600 bad requests to ${url === env.url ? 'the default endpoint' : 'the mounted middleware'}, no log lines`)
        const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
        assert.equal((await fetchWire(url, record.id, proofHeaders(record))).payload.state, PixstoreState.Success)
      }
      await mounted.close()
    })

    it('gives the same answers on the direct path and through pixstoreMiddleware in a host Koa app', async () => {
      const mounted = await serve(hostApp(env.backend))
      try {
        const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
        const dirRecord = (await env.backend.saveImage(readFixture(fixtureImages('gif')[0]!), 'album'))!
        const proof = `x-pixstore-proof: ${record.statelessProof}`
        const cases: Array<[string, string, string[]]> = [
          ['GET', `/pixstore-image/${record.id}`, [proof, `x-pixstore-token: ${record.token}`]],
          ['GET', `/pixstore-image/${record.id}`, [proof]],
          ['GET', `/pixstore-image/${record.id}?pixstore-proof=${encodeURIComponent(record.statelessProof)}#frag&pixstore-token=${record.token}`, []],
          ['GET', `/pixstore-image/${dirRecord.id.replace(':', '%3A')}`, [`x-pixstore-proof: ${dirRecord.statelessProof}`, `x-pixstore-token: ${dirRecord.token}`]],
          ['GET', `/pixstore-image/${record.id}`, ['x-pixstore-proof: forged']],
          ['HEAD', `/pixstore-image/${record.id}`, [proof]],
          ['GET', '/pixstore-image/', []],
          ['GET', '/pixstore-image', []],
          ['GET', '/pixstore-image/a/b', []],
          ['GET', '/pixstore-image/%ZZ', []],
          ['POST', `/pixstore-image/${record.id}`, []],
          ['OPTIONS', `/pixstore-image/${record.id}`, ['Origin: http://app.example', 'Access-Control-Request-Method: GET']],
        ]
        for (const [method, target, headers] of cases) {
          const [direct, viaKoa] = [await rawExchange(env.url, method, target, headers), await rawExchange(mounted.url, method, target, headers)]
          const label = `${method} ${target}`
          assert.equal(viaKoa.status, direct.status, label)
          for (const name of ['content-type', 'content-length', 'cache-control', 'referrer-policy', 'vary', 'access-control-allow-origin', 'allow', 'access-control-allow-methods', 'access-control-allow-headers']) {
            assert.equal(viaKoa.headers[name], direct.headers[name], `${label}: ${name}`)
          }
          if (method === 'GET' && direct.status === 200) {
            // Ciphertext is the same stored bytes; the state byte decides.
            assert.equal(viaKoa.body[0], direct.body[0], `${label}: state`)
            assert.equal(viaKoa.body.length, direct.body.length, `${label}: length`)
          } else {
            assert.deepEqual(viaKoa.body, direct.body, `${label}: body`)
          }
        }
        const fragment = await rawExchange(env.url, 'GET', cases[2]![1], [])
        assert.equal(fragment.body[0], PixstoreState.Updated, 'the token after the fragment is no part of the query')
        const decoded = await rawExchange(env.url, 'GET', cases[3]![1], cases[3]![2])
        assert.equal(decoded.body[0], PixstoreState.Success, '%3A names dir:id')
      } finally {
        await mounted.close()
      }
    })

    it('answers 405 for other methods and 204 to a CORS preflight', async () => {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const response = await fetch(`${env.url}/pixstore-image/abc`, { method })
        assert.equal(response.status, 405, method)
        assert.equal(response.headers.get('allow'), 'GET, OPTIONS')
      }
      const preflight = await fetch(`${env.url}/pixstore-image/abc`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://localhost:7480', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-pixstore-proof, x-pixstore-token' },
      })
      assert.equal(preflight.status, 204)
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*')
      assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, OPTIONS')
      assert.equal(preflight.headers.get('access-control-allow-headers'), 'x-pixstore-proof, x-pixstore-token, x-pixstore-chunked')
    })

    // Stored files exist only in the SQLite store; the PostgreSQL outage test covers InternalError there.
    if (kind === 'sqlite') it('gives InternalError (not a crash) when a stored file is damaged, and keeps serving', async () => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      const { file } = (await (env.backend.store as SqliteImageStore).get(record.id))!
      const full = path.join(env.config.imageRootDir!, file)
      rmSync(full)
      mkdirSync(full) // reading a directory fails with EISDIR
      const error = console.error
      console.error = () => {}
      try {
        assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.InternalError)
      } finally {
        console.error = error
      }
      const other = (await env.backend.saveImage(readFixture(fixtureImages('gif')[0]!)))!
      assert.equal((await fetchWire(env.url, other.id, proofHeaders(other))).payload.state, PixstoreState.Success)
    })

    if (kind === 'sqlite') it('treats a lost ciphertext file as missing everywhere: NotFound, imageExists false, a clear error, one log line', async (t) => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      const { file } = (await (env.backend.store as SqliteImageStore).get(record.id))!
      rmSync(path.join(env.config.imageRootDir!, file))
      const logged = t.mock.method(console, 'error', () => {})
      for (let i = 0; i < 3; i++) assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.NotFound)
      assert.equal(logged.mock.callCount(), 1, 'logged once, not per request')
      assert.match(String(logged.mock.calls[0]!.arguments[0]), /ciphertext file is missing/)
      const silent = new PixstoreBackend({ ...env.config, errorHandlingMode: 'silent' })
      try {
        assert.equal(await silent.imageExists(record.id), false)
        assert.equal(await silent.getImageRecord(record.id), null)
        assert.match(silent.lastError!.message, new RegExp(`Image ${record.id}: its ciphertext file is missing`))
        assert.ok(await silent.updateImage(record.id, readFixture(fixtureImages('png')[0]!)), 'an update brings it back')
        assert.equal(await silent.imageExists(record.id), true)
      } finally {
        await silent.close()
      }
    })

    it('serves consistent payloads while the same image is updated concurrently', async () => {
      const versions = [...fixtureImages('png'), ...fixtureImages('jpg')].map(readFixture)
      const record = (await env.backend.saveImage(versions[0]!))!
      const known = new Map([[record.token, record]])
      const updates = Array.from({ length: 30 }, (_, i) =>
        env.backend.updateImage(record.id, versions[i % versions.length]!).then((r) => void known.set(r!.token, r!)),
      )
      const reads = Array.from({ length: 60 }, (_, i) => fetchWire(env.url, record.id, proofHeaders(record, i % 2 === 0)))
      const [, responses] = await Promise.all([Promise.all(updates), Promise.all(reads)])
      let updated = 0
      for (const { payload } of responses) {
        assert.ok(payload.state === PixstoreState.Success || payload.state === PixstoreState.Updated, `state ${payload.state}`)
        // Success decrypts with the record we sent; Updated with the meta it carries.
        const { image } = openPayload(payload, record)
        assert.ok(versions.some((version) => version.equals(image)), 'decrypts to one of the saved versions')
        if (payload.state === PixstoreState.Updated) updated++
      }
      assert.ok(updated > 0)
      if (kind !== 'sqlite') return
      const files = readdirSync(path.join(env.config.imageRootDir!)).filter((name) => name.startsWith(record.id))
      assert.equal(files.length, 1, 'only the current version stays on disk')
    })
  })

  describe(`stateless proof lifetime (${kind} store)`, () => {
    let clock = 1_000_000
    const env = backendOnPort({ statelessKeyWindowLength: 1000 }, { kind, backendOptions: { now: () => clock } })
    before(env.start)
    after(env.stop)

    it('accepts the current and previous window, refuses older proofs', async () => {
      clock = 1_000_000
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      clock = 1_001_500 // next window: still accepted
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.Success)
      clock = 1_002_000 // two windows later: expired
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.InvalidProof)
      const fresh = (await env.backend.getImageRecord(record.id))!
      assert.notEqual(fresh.statelessProof, record.statelessProof)
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(fresh))).payload.state, PixstoreState.Success)
    })

    it('a record says when its proof expires: accepted until the ms before proofExpiresAt, refused from it', async () => {
      clock = 1_000_400
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      assert.equal(record.proofExpiresAt, 1_002_000)
      assert.equal((await env.backend.getImageRecords([record.id]))![0]!.proofExpiresAt, 1_002_000)
      clock = 1_001_999
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.Success)
      clock = 1_002_000
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.InvalidProof)
    })
  })

  describe(`stateless proofs on the real clock (${kind} store)`, () => {
    const env = backendOnPort({ statelessKeyWindowLength: 150 }, { kind })
    before(env.start)
    after(env.stop)

    it('expire after two short windows', async () => {
      const record = (await env.backend.saveImage(readFixture(fixtureImages('png')[0]!)))!
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.Success)
      await new Promise((resolve) => setTimeout(resolve, 350))
      assert.equal((await fetchWire(env.url, record.id, proofHeaders(record))).payload.state, PixstoreState.InvalidProof)
    })
  })

  describe(`statelessKeyWindowLength -1 (${kind} store)`, () => {
    const warnings: string[] = []
    const env = backendOnPort({ statelessKeyWindowLength: -1 }, { kind })
    before(async () => {
      const warn = console.warn
      console.warn = (message: string) => void warnings.push(message)
      try {
        await env.start()
      } finally {
        console.warn = warn
      }
    })
    after(env.stop)

    it('serves without any proof, after warning at start', async () => {
      assert.ok(warnings.some((message) => /DISABLED/.test(message)))
      const record = (await env.backend.saveImage(readFixture(fixtureImages('gif')[0]!)))!
      assert.equal((await fetchWire(env.url, record.id)).payload.state, PixstoreState.Updated)
      assert.equal((await fetchWire(env.url, record.id, { 'x-pixstore-token': String(record.token) })).payload.state, PixstoreState.Success)
    })
  })

  describe(`accessControlAllowOrigin as a list (${kind} store)`, () => {
    const env = backendOnPort({ accessControlAllowOrigin: ['http://localhost:7480', 'https://app.example'] }, { kind })
    before(env.start)
    after(env.stop)

    it('echoes a listed Origin and omits the header for others', async () => {
      const listed = await fetch(`${env.url}/pixstore-image/abc`, { headers: { Origin: 'https://app.example' } })
      assert.equal(listed.headers.get('access-control-allow-origin'), 'https://app.example')
      assert.match(listed.headers.get('vary') ?? '', /Origin/)
      const other = await fetch(`${env.url}/pixstore-image/abc`, { headers: { Origin: 'https://evil.example' } })
      assert.equal(other.headers.get('access-control-allow-origin'), null)
    })
  })
}
