import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { after, afterEach, describe, it } from 'node:test'
import Koa from 'koa'
import { PixstoreState } from '../protocol/wire'
import {
  createPixstoreApp,
  customEndpointHelper,
  deleteImage,
  getImageRecord,
  getImageRecords,
  getLastPixstoreError,
  imageExists,
  initPixstoreBackend,
  PixstoreBackend,
  pixstoreMiddleware,
  pixstoreServiceWorker,
  saveImage,
  saveImageFromFile,
  setCustomErrorHandler,
  updateImage,
  updateImageFromFile,
  type PixstoreHandle,
} from './index'
import { fetchWire, fixtureImages, openPayload, proofHeaders, readFixture, serve, STORE_KINDS, tempStore, testConfig, testConfigFor, TEST_SECRET, type StoreKind } from '../testing/testSupport'

describe('initPixstoreBackend and the module-level API', () => {
  let handle: PixstoreHandle | null = null
  const cleanups: (() => void)[] = []
  afterEach(async () => {
    await handle?.close()
    handle = null
    setCustomErrorHandler(null)
  })
  after(() => cleanups.forEach((cleanup) => cleanup()))
  const start = async (overrides = {}, kind: StoreKind = 'sqlite') => {
    const { config, cleanup } = await testConfigFor(kind, overrides)
    cleanups.push(cleanup)
    handle = await initPixstoreBackend(config)
    return handle
  }

  for (const kind of STORE_KINDS) it(`listens, and the functions work on the instance it created (${kind} store)`, async () => {
    const { url } = await start({}, kind)
    assert.match(url!, /^http:\/\/127\.0\.0\.1:\d+$/)
    const [png, jpg] = [fixtureImages('png')[0]!, fixtureImages('jpg')[0]!]
    const record = (await saveImageFromFile(png, 'gallery'))!
    assert.equal(await imageExists(record.id), true)
    const again = (await getImageRecord(record.id))!
    assert.equal(again.token, record.token)
    const { payload } = await fetchWire(url!, record.id, proofHeaders(again, false))
    assert.deepEqual(openPayload(payload, again).image, readFixture(png))

    const updated = (await updateImageFromFile(record.id, jpg))!
    assert.ok(updated.token > record.token)
    const bytes = await customEndpointHelper(record.id, String(record.token), updated.statelessProof)
    assert.equal(bytes[0], PixstoreState.Updated)
    const viaBuffer = (await updateImage(record.id, readFixture(png)))!
    assert.ok(viaBuffer.token > updated.token)

    assert.equal(await deleteImage(record.id), true)
    assert.equal(await imageExists(record.id), false)
    assert.equal(await getImageRecord(record.id), null)
    assert.match(getLastPixstoreError()!.message, /Image not found/)
    assert.equal(getLastPixstoreError()!.code, 'ERR_IMAGE_NOT_FOUND')
    assert.equal(await saveImage(Buffer.from('hello')), null)
    assert.match(getLastPixstoreError()!.message, /Invalid image file/)
  })

  it('gives each caller its own last error, even when failing calls overlap', async () => {
    await start({ errorHandlingMode: 'silent' })
    const png = readFixture(fixtureImages('png')[0]!)
    const seen = await Promise.all([
      (async () => {
        assert.equal(await saveImage(Buffer.from('not an image')), null)
        await new Promise((resolve) => setTimeout(resolve, 20)) // the other call fails meanwhile
        return getLastPixstoreError()?.message
      })(),
      (async () => {
        assert.equal(await saveImage(png, '../up'), null)
        return getLastPixstoreError()?.message
      })(),
      (async () => {
        assert.ok(await saveImage(png))
        return getLastPixstoreError()
      })(),
    ])
    assert.match(seen[0]!, /Invalid image file/)
    assert.match(seen[1]!, /Invalid dir/)
    assert.equal(seen[2], null, 'a call that succeeded has no error')
    assert.equal(await saveImageFromFile('/nonexistent.png'), null)
    assert.match(getLastPixstoreError()!.message, /Cannot read image file/, 'nested calls report the outer error')
  })

  it('keeps proof secrets out of util.inspect and JSON.stringify', async () => {
    const previous = 'previous-secret-previous-secret-42'
    const handle = await start({ previousStatelessProofSecrets: [previous] })
    for (const printed of [inspect(handle, { depth: 10, showHidden: true }), inspect(handle.backend, { depth: 10 }), JSON.stringify(handle.backend)]) {
      assert.ok(!printed.includes(TEST_SECRET), 'current secret hidden')
      assert.ok(!printed.includes(previous), 'previous secret hidden')
    }
    assert.equal(handle.backend.config.statelessProofSecret, '[redacted]')
    const record = (await saveImage(readFixture(fixtureImages('png')[0]!)))!
    assert.equal((await customEndpointHelper(record.id, record.token, record.statelessProof))[0], PixstoreState.Success, 'the secret still signs and verifies')
  })

  it('getImageRecords: a fresh record per existing id, in order, missing and malformed ids left out', async () => {
    const { url, backend } = await start()
    const [png, jpg] = [fixtureImages('png')[0]!, fixtureImages('jpg')[0]!]
    const a = (await saveImageFromFile(png))!
    const b = (await saveImageFromFile(jpg, 'gallery'))!
    const records = (await getImageRecords([b.id, 'no-such-image', a.id, '../etc/passwd', b.id]))!
    assert.deepEqual(records.map((r) => r.id), [b.id, a.id])
    assert.deepEqual(records[0], await getImageRecord(b.id))
    const { payload } = await fetchWire(url!, a.id, proofHeaders(records[1]!, false))
    assert.deepEqual(openPayload(payload, records[1]!).image, readFixture(png))
    assert.deepEqual(await backend.getImageRecords([a.id]), [await backend.getImageRecord(a.id)])
    assert.deepEqual(await getImageRecords([]), [])
    assert.equal(await getImageRecords(Array.from({ length: 1001 }, () => a.id)), null)
    assert.match(getLastPixstoreError()!.message, /at most 1000 ids/)
    assert.equal(await getImageRecords('not-a-list' as unknown as string[]), null)
  })

  it('refuses a second init while one is open, and a wrong config before listening', async () => {
    await start()
    await assert.rejects(initPixstoreBackend(testConfig().config), /already initialized/)
    await handle!.close()
    handle = null
    await assert.rejects(initPixstoreBackend({ defaultEndpointListenPort: -5 }), /"defaultEndpointListenPort"/)
    await assert.rejects(initPixstoreBackend({ ...testConfig().config, errorHandlingMode: 'custom' }), /setCustomErrorHandler/)
  })

  it('throws in "throw" mode and calls the handler in "custom" mode', async () => {
    await start({ errorHandlingMode: 'throw' })
    await assert.rejects(saveImage(Buffer.from('hello')), /Invalid image file/)
    await handle!.close()
    const seen: unknown[] = []
    setCustomErrorHandler((error) => seen.push(error))
    await start({ errorHandlingMode: 'custom' })
    assert.equal(await saveImage(Buffer.from('hello')), null)
    assert.equal(seen.length, 1)
  })

  it('starts no server when defaultEndpointEnabled is false, and mounts into an existing Koa app', async () => {
    const { backend, url, server } = await start({ defaultEndpointEnabled: false })
    assert.equal(url, null)
    assert.equal(server, null)
    const app = new Koa()
    app.use(pixstoreMiddleware(backend))
    app.use((ctx) => {
      ctx.body = 'app route'
    })
    const site = await serve(app)
    try {
      const record = (await saveImage(readFixture(fixtureImages('gif')[0]!)))!
      const { payload } = await fetchWire(site.url, record.id, proofHeaders(record))
      assert.equal(payload.state, PixstoreState.Success)
      const own = await fetch(`${site.url}/api/things`, { method: 'POST' })
      assert.equal(await own.text(), 'app route', 'other routes and methods are left alone')
      assert.equal(own.headers.get('access-control-allow-origin'), null, 'no CORS added to app routes')
    } finally {
      await site.close()
    }
  })

  it('fails clearly when calling functions before init', async () => {
    await assert.rejects(saveImage(Buffer.alloc(1)), /initPixstoreBackend\(\) first/)
  })
})

describe('proofs across restarts, instances and secret rotation', () => {
  const OLD = 'old-secret-old-secret-old-secret-0'
  const NEW = 'new-secret-new-secret-new-secret-1'

  it('a proof from one instance validates on a restarted one and on a second one sharing PIXSTORE_SECRET', async () => {
    const { config, cleanup } = testConfig({ statelessProofSecret: undefined })
    const first = new PixstoreBackend(config, { env: { PIXSTORE_SECRET: OLD } })
    const record = (await first.saveImage(readFixture(fixtureImages('png')[0]!)))!
    await first.close()
    const restarted = new PixstoreBackend(config, { env: { PIXSTORE_SECRET: OLD } })
    const sibling = new PixstoreBackend(config, { env: { PIXSTORE_SECRET: OLD } })
    try {
      for (const backend of [restarted, sibling]) {
        assert.equal((await backend.customEndpointHelper(record.id, record.token, record.statelessProof))[0], PixstoreState.Success)
      }
    } finally {
      await restarted.close()
      await sibling.close()
      cleanup()
    }
  })

  it('keeps proofs of a rotated-out secret valid only while it is listed', async () => {
    const { config, cleanup } = testConfig({ statelessProofSecret: OLD })
    const before = new PixstoreBackend(config)
    const record = (await before.saveImage(readFixture(fixtureImages('png')[0]!)))!
    await before.close()
    const rotated = new PixstoreBackend({ ...config, statelessProofSecret: NEW, previousStatelessProofSecrets: [OLD] })
    const dropped = new PixstoreBackend({ ...config, statelessProofSecret: NEW })
    try {
      assert.equal((await rotated.customEndpointHelper(record.id, record.token, record.statelessProof))[0], PixstoreState.Success)
      assert.equal((await dropped.customEndpointHelper(record.id, record.token, record.statelessProof))[0], PixstoreState.InvalidProof)
      const fresh = (await rotated.getImageRecord(record.id))!
      assert.equal((await dropped.customEndpointHelper(record.id, record.token, fresh.statelessProof))[0], PixstoreState.Success, 'new proofs use the new secret')
    } finally {
      await rotated.close()
      await dropped.close()
      cleanup()
    }
  })
})

describe('pixstoreServiceWorker', () => {
  it('serves the worker script at its path with no-cache, and nothing else', async () => {
    const temp = tempStore()
    const file = path.join(temp.dir, 'sw.js')
    writeFileSync(file, 'self.addEventListener("fetch", () => {})')
    const app = new Koa()
    app.use(pixstoreServiceWorker({ file }))
    app.use((ctx) => {
      ctx.body = 'next'
    })
    const site = await serve(app)
    try {
      const response = await fetch(`${site.url}/pixstore-sw.js`)
      assert.equal(response.status, 200)
      assert.match(response.headers.get('content-type')!, /javascript/)
      assert.equal(response.headers.get('cache-control'), 'no-cache')
      assert.match(await response.text(), /addEventListener/)
      assert.equal(await (await fetch(`${site.url}/other.js`)).text(), 'next')
    } finally {
      await site.close()
      temp.cleanup()
    }
  })
})

describe('createPixstoreApp', () => {
  it('is what the default endpoint runs', async () => {
    const { config, cleanup } = testConfig()
    const backend = new PixstoreBackend({ ...config, statelessProofSecret: TEST_SECRET })
    const site = await serve(createPixstoreApp(backend))
    try {
      assert.equal((await fetch(`${site.url}/pixstore-image`)).status, 400)
    } finally {
      await site.close()
      await backend.close()
      cleanup()
    }
  })

  it('answers outside its route with a 404 a page on another origin can read (CORS), preflight included', async () => {
    const { config, cleanup } = testConfig()
    const backend = new PixstoreBackend({ ...config, statelessProofSecret: TEST_SECRET, accessControlAllowOrigin: 'http://app.example' })
    const site = await serve(createPixstoreApp(backend))
    try {
      const wrong = await fetch(`${site.url}/images/abc?pixstore-proof=x`, { headers: { Origin: 'http://app.example' } })
      assert.equal(wrong.status, 404)
      assert.equal(wrong.headers.get('access-control-allow-origin'), 'http://app.example')
      assert.match(await wrong.text(), /serves \/pixstore-image\/<id>/)
      const preflight = await fetch(`${site.url}/images/abc`, { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Headers': 'x-pixstore-proof' } })
      assert.equal(preflight.status, 204)
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://app.example')
      const other = await fetch(`${site.url}/images/abc`, { headers: { Origin: 'http://evil.example' } })
      assert.equal(other.headers.get('access-control-allow-origin'), null, 'an origin not allowed reads nothing')
    } finally {
      await site.close()
      await backend.close()
      cleanup()
    }
  })
})
