import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_CONFIG, resolveConfig } from './config'
import { PixstoreConfigError } from './errors'
import { resolveProofKeys } from './secrets'

describe('resolveConfig', () => {
  it('fills the documented defaults', () => {
    const config = resolveConfig()
    assert.equal(config.defaultEndpointEnabled, true)
    assert.equal(config.defaultEndpointListenHost, '0.0.0.0')
    assert.equal(config.defaultEndpointListenPort, 7482)
    assert.equal(config.defaultEndpointRoute, '/pixstore-image')
    assert.equal(config.accessControlAllowOrigin, '*')
    assert.equal(config.statelessKeyWindowLength, 20000)
    assert.equal(config.errorHandlingMode, 'hybrid')
    assert.deepEqual(config, { ...DEFAULT_CONFIG })
  })

  it('names the field and what is allowed for every wrong value', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ defaultEndpointEnabled: 'yes' }, /"defaultEndpointEnabled".*true or false/],
      [{ defaultEndpointListenPort: 70000 }, /"defaultEndpointListenPort".*0 to 65535/],
      [{ defaultEndpointListenPort: 1.5 }, /"defaultEndpointListenPort"/],
      [{ defaultEndpointRoute: 'pixstore' }, /"defaultEndpointRoute".*starts with "\/"/],
      [{ defaultEndpointRoute: '/pixstore/' }, /"defaultEndpointRoute"/],
      [{ accessControlAllowOrigin: 'example.com' }, /"accessControlAllowOrigin"/],
      [{ accessControlAllowOrigin: [] }, /"accessControlAllowOrigin"/],
      [{ statelessKeyWindowLength: 0 }, /"statelessKeyWindowLength".*-1 to disable/],
      [{ statelessKeyWindowLength: -2 }, /"statelessKeyWindowLength"/],
      [{ statelessProofSecret: 'short' }, /"statelessProofSecret".*at least 32/],
      [{ previousStatelessProofSecrets: ['short'] }, /"previousStatelessProofSecrets"/],
      [{ imageRootDir: '' }, /"imageRootDir"/],
      [{ databasePath: 5 }, /"databasePath"/],
      [{ imageFormats: ['png', 'bmp'] }, /"imageFormats".*"png", "webp", "jpg", "jpeg", "gif", "avif"/],
      [{ imageFormats: [] }, /"imageFormats"/],
      [{ errorHandlingMode: 'loud' }, /"errorHandlingMode".*"hybrid", "throw", "warn", "silent", "custom"/],
      [{ imageRootDirectory: 'x' }, /Unknown config field "imageRootDirectory"/],
      [{ keyEncryptionKey: 'too-short' }, /"keyEncryptionKey".*32 random bytes as base64 or 64 hex digits, or an object \{ wrapKey\(key, id\), unwrapKey\(wrapped, id\) \}/],
      [{ keyEncryptionKey: 'ab'.repeat(31) }, /Invalid config field "keyEncryptionKey"/],
      [{ keyEncryptionKey: Buffer.alloc(31).toString('base64') }, /Invalid config field "keyEncryptionKey"/],
      [{ keyEncryptionKey: { wrapKey: async () => new Uint8Array(64) } }, /Invalid config field "keyEncryptionKey"/],
      [{ keyEncryptionKey: 42 }, /Invalid config field "keyEncryptionKey"/],
      [{ previousKeyEncryptionKeys: 'ab'.repeat(32) }, /"previousKeyEncryptionKeys".*a list of keys/],
      [{ previousKeyEncryptionKeys: ['ab'.repeat(32), 'nope'] }, /Invalid config field "previousKeyEncryptionKeys"/],
      [{ defaultEndpointListenHost: '' }, /"defaultEndpointListenHost".*non-empty host/],
      [{ responseTimeout: 999 }, /"responseTimeout".*1000 to 3600000/],
      [{ maxConnections: 0 }, /"maxConnections".*"auto" or a whole number/],
      [{ databaseUrl: 'mysql://db/pixstore' }, /"databaseUrl".*postgres:\/\//],
      [{ memoryCacheBytes: -1 }, /"memoryCacheBytes".*0 to disable/],
      [{ maxImageBytes: 0 }, /"maxImageBytes".*positive whole number/],
    ]
    for (const [input, message] of cases) {
      assert.throws(() => resolveConfig(input), (error) => error instanceof PixstoreConfigError && message.test(error.message), JSON.stringify(input))
    }
    // Every field has its wrong value here: a new field without a case fails this test.
    const covered = new Set(cases.flatMap(([input]) => Object.keys(input)))
    assert.deepEqual(Object.keys(DEFAULT_CONFIG).filter((field) => !covered.has(field)), [])
  })

  it('validates responseTimeout and maxConnections, with their defaults', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ responseTimeout: 0 }, /"responseTimeout".*1000 to 3600000/],
      [{ responseTimeout: 999 }, /"responseTimeout"/],
      [{ responseTimeout: 1500.5 }, /"responseTimeout"/],
      [{ responseTimeout: '30000' }, /"responseTimeout"/],
      [{ maxConnections: 0 }, /"maxConnections".*"auto" or a whole number from 1/],
      [{ maxConnections: 'many' }, /"maxConnections"/],
      [{ maxConnections: 2.5 }, /"maxConnections"/],
    ]
    for (const [input, message] of cases) {
      assert.throws(() => resolveConfig(input), (error) => error instanceof PixstoreConfigError && message.test(error.message), JSON.stringify(input))
    }
    assert.equal(resolveConfig({}).responseTimeout, 30_000)
    assert.equal(resolveConfig({}).maxConnections, 'auto')
    assert.equal(resolveConfig({ maxConnections: 200, responseTimeout: 5000 }).maxConnections, 200)
    // The command line: --max-connections auto|N, PIXSTORE_RESPONSE_TIMEOUT.
    const { loadCliConfig } = await import('../cli/config')
    assert.equal(loadCliConfig({ maxConnections: 'auto' }, {}).maxConnections, 'auto')
    assert.equal(loadCliConfig({ maxConnections: '300' }, { PIXSTORE_RESPONSE_TIMEOUT: '2000' }).maxConnections, 300)
    assert.equal(loadCliConfig({}, { PIXSTORE_RESPONSE_TIMEOUT: '2000' }).responseTimeout, 2000)
    assert.throws(() => loadCliConfig({ maxConnections: 'lots' }, {}), /--max-connections: expected a whole number/)
  })

  it('the default endpoint server gets maxConnections, responseTimeout and the tuned timeouts', async () => {
    const { autoMaxConnections, createDefaultEndpointServer, ENDPOINT_SERVER_OPTIONS } = await import('./http/defaultServer')
    const { PixstoreBackend } = await import('./backend')
    assert.equal(autoMaxConnections(1024), 480)
    assert.equal(autoMaxConnections(64), 16)
    assert.equal(autoMaxConnections(10_000_000), 65_536)
    const { tempStore } = await import('../testing/testSupport')
    const temp = tempStore()
    const backend = new PixstoreBackend({ ...temp.config, maxConnections: 123, responseTimeout: 4000, statelessProofSecret: 'x'.repeat(32) }, { env: {} })
    try {
      const server = createDefaultEndpointServer(backend)
      assert.equal(server.maxConnections, 123)
      assert.equal(server.timeout, 4000)
      assert.equal(server.headersTimeout, ENDPOINT_SERVER_OPTIONS.headersTimeout)
      assert.equal(server.requestTimeout, ENDPOINT_SERVER_OPTIONS.requestTimeout)
      assert.equal(server.keepAliveTimeout, ENDPOINT_SERVER_OPTIONS.keepAliveTimeout)
      assert.ok(server.headersTimeout <= 10_000 && server.requestTimeout <= 10_000, 'well below Node\'s 60 s / 300 s')
      const auto = new PixstoreBackend({ ...temp.config, statelessProofSecret: 'x'.repeat(32) }, { env: {} })
      assert.equal(createDefaultEndpointServer(auto).maxConnections, autoMaxConnections())
      await auto.close()
    } finally {
      await backend.close()
      temp.cleanup()
    }
  })

  it('never echoes a rejected secret', () => {
    assert.throws(() => resolveConfig({ statelessProofSecret: 'hunter2' }), (error: Error) => !error.message.includes('hunter2'))
  })

  it('never echoes a rejected key encryption key', () => {
    const almost = 'cd'.repeat(31)
    assert.throws(() => resolveConfig({ keyEncryptionKey: almost }), (error: Error) => /Invalid config field "keyEncryptionKey"/.test(error.message) && !error.message.includes(almost))
    assert.throws(() => resolveConfig({ previousKeyEncryptionKeys: [almost] }), (error: Error) => /Invalid config field "previousKeyEncryptionKeys"/.test(error.message) && !error.message.includes(almost))
  })

  it('takes a key encryption key as 64 hex digits, base64 of 32 bytes, or an object with wrapKey and unwrapKey', () => {
    const kms = { wrapKey: async (key: Uint8Array) => key, unwrapKey: async (wrapped: Uint8Array) => wrapped }
    for (const key of ['ef'.repeat(32), Buffer.alloc(32, 3).toString('base64'), Buffer.alloc(32, 0xfb).toString('base64url'), kms]) {
      const config = resolveConfig({ keyEncryptionKey: key, previousKeyEncryptionKeys: [key] }, {})
      assert.equal(config.keyEncryptionKey, key)
      assert.deepEqual(config.previousKeyEncryptionKeys, [key])
    }
    assert.equal(resolveConfig({}, {}).keyEncryptionKey, undefined)
    assert.deepEqual(resolveConfig({}, {}).previousKeyEncryptionKeys, [])
  })

  it('selects PostgreSQL with databaseUrl (or PIXSTORE_DATABASE_URL) and drops the SQLite paths', () => {
    const url = 'postgresql://app:pw-1@db.internal:5432/pixstore'
    for (const config of [resolveConfig({ databaseUrl: url }, {}), resolveConfig({}, { PIXSTORE_DATABASE_URL: url })]) {
      assert.equal(config.databaseUrl, url)
      assert.equal(config.databasePath, undefined)
      assert.equal(config.imageRootDir, undefined)
      assert.deepEqual(resolveConfig(config, {}), config, 'a resolved config resolves to itself')
    }
    assert.equal(resolveConfig({ databaseUrl: 'postgres://db/pixstore' }, { PIXSTORE_DATABASE_URL: url }).databaseUrl, 'postgres://db/pixstore', 'config wins over env')
    assert.equal(resolveConfig({}, {}).databaseUrl, undefined)
  })

  it('refuses databaseUrl together with databasePath or imageRootDir, naming both fields', () => {
    const url = 'postgres://app:pw-2@db/pixstore'
    for (const [input, env] of [
      [{ databaseUrl: url, databasePath: 'x.sqlite' }, {}],
      [{ databaseUrl: url, imageRootDir: 'images' }, {}],
      [{ databasePath: DEFAULT_CONFIG.databasePath }, { PIXSTORE_DATABASE_URL: url }],
    ] as const) {
      assert.throws(
        () => resolveConfig(input, env),
        (error: Error) => error instanceof PixstoreConfigError && /"databaseUrl".*"(databasePath|imageRootDir)"/.test(error.message) && !error.message.includes('pw-2'),
        JSON.stringify(input),
      )
    }
  })

  it('refuses other URLs without echoing their password', () => {
    for (const [input, env] of [
      [{ databaseUrl: 'mysql://root:pw-3@db/pixstore' }, {}],
      [{ databaseUrl: 'postgres//root:pw-3@db' }, {}],
      [{}, { PIXSTORE_DATABASE_URL: 'sqlite://root:pw-3@x' }],
    ] as const) {
      assert.throws(
        () => resolveConfig(input, env),
        (error: Error) => /"databaseUrl".*postgres:\/\/ or postgresql:\/\//.test(error.message) && !error.message.includes('pw-3'),
        JSON.stringify(input),
      )
    }
  })

  it('accepts a list of origins and -1 for the proof window', () => {
    const config = resolveConfig({ accessControlAllowOrigin: ['https://a.example', 'http://localhost:7480'], statelessKeyWindowLength: -1 })
    assert.deepEqual(config.accessControlAllowOrigin, ['https://a.example', 'http://localhost:7480'])
    assert.equal(config.statelessKeyWindowLength, -1)
  })
})

describe('resolveProofKeys', () => {
  const secret = 'a'.repeat(32)
  it('prefers the config secret, then PIXSTORE_SECRET', () => {
    const warnings: string[] = []
    const fromConfig = resolveProofKeys({ statelessProofSecret: secret, previousStatelessProofSecrets: [] }, { PIXSTORE_SECRET: 'b'.repeat(32) }, (m) => warnings.push(m))
    assert.equal(fromConfig.current, secret)
    const fromEnv = resolveProofKeys({ statelessProofSecret: undefined, previousStatelessProofSecrets: [] }, { PIXSTORE_SECRET: 'b'.repeat(32) }, (m) => warnings.push(m))
    assert.equal(fromEnv.current, 'b'.repeat(32))
    assert.deepEqual(warnings, [])
  })
  it('falls back to a random secret with exactly one warning', () => {
    const warnings: string[] = []
    const a = resolveProofKeys({ statelessProofSecret: undefined, previousStatelessProofSecrets: [] }, {}, (m) => warnings.push(m))
    const b = resolveProofKeys({ statelessProofSecret: undefined, previousStatelessProofSecrets: [] }, {}, () => {})
    assert.notEqual(a.current, b.current)
    assert.ok(a.current.length >= 32)
    assert.equal(warnings.length, 1)
    assert.match(warnings[0]!, /random per-process secret/)
  })
  it('refuses a short PIXSTORE_SECRET', () => {
    assert.throws(() => resolveProofKeys({ statelessProofSecret: undefined, previousStatelessProofSecrets: [] }, { PIXSTORE_SECRET: 'short' }, () => {}), /PIXSTORE_SECRET/)
  })
})
