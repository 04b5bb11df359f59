import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_CONFIG, resolveConfig } from './config'
import { PixstoreConfigError } from './errors'
import { resolveProofKeys } from './proofKeys'

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
    ]
    for (const [input, message] of cases) {
      assert.throws(() => resolveConfig(input), (error) => error instanceof PixstoreConfigError && message.test(error.message), JSON.stringify(input))
    }
  })

  it('never echoes a rejected secret', () => {
    assert.throws(() => resolveConfig({ statelessProofSecret: 'hunter2' }), (error: Error) => !error.message.includes('hunter2'))
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
