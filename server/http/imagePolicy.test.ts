import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decideImageRequest, isClientFault, RequestFailureLog } from './imagePolicy'

const config = { defaultEndpointRoute: '/pixstore-image', accessControlAllowOrigin: ['http://app.example'] }

describe('the client-fault filter', () => {
  it('counts parser errors, hang-ups and 4xx as the client\'s doing, and nothing else', () => {
    for (const code of ['HPE_INVALID_CHUNK_SIZE', 'HPE_HEADER_OVERFLOW', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ECANCELED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']) {
      assert.equal(isClientFault(Object.assign(new Error(code), { code })), true, code)
    }
    assert.equal(isClientFault(Object.assign(new Error('bad request'), { status: 400 })), true)
    for (const error of [new Error('boom'), Object.assign(new Error('x'), { code: 'ENOSPC' }), Object.assign(new Error('x'), { status: 500 }), Object.assign(new Error('x'), { code: 'ERR_KEY_UNWRAP' }), null, 'text', 42]) {
      assert.equal(isClientFault(error), false, String(error))
    }
  })

  it('the failure log never logs a client fault, and logs a server fault once per kind, not per request', () => {
    const lines: string[] = []
    const log = new RequestFailureLog((line) => lines.push(line))
    for (let i = 0; i < 1000; i++) log.report(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))
    assert.deepEqual(lines, [])
    for (let i = 0; i < 1000; i++) log.report(Object.assign(new Error('disk full'), { code: 'ENOSPC' }))
    for (let i = 0; i < 1000; i++) log.report(new TypeError('a bug'))
    assert.equal(lines.length, 2)
    assert.match(lines[0]!, /ENOSPC.*disk full/)
    assert.match(lines[1]!, /TypeError.*a bug/)
  })
})

describe('decideImageRequest', () => {
  it('drops a #fragment from the target, as Koa does, and decodes %3A once', () => {
    const withFragment = decideImageRequest(config, 'GET', '/pixstore-image/abc?pixstore-proof=p#x&pixstore-token=1', undefined)
    assert.deepEqual(withFragment.kind === 'image' && [withFragment.id, withFragment.querystring], ['abc', 'pixstore-proof=p'])
    const fragmentInPath = decideImageRequest(config, 'GET', '/pixstore-image/abc#?pixstore-proof=p', undefined)
    assert.deepEqual(fragmentInPath.kind === 'image' && [fragmentInPath.id, fragmentInPath.querystring], ['abc', ''])
    const encoded = decideImageRequest(config, 'GET', '/pixstore-image/album%3Aabc', undefined)
    assert.equal(encoded.kind === 'image' && encoded.id, 'album:abc')
    assert.equal(decideImageRequest(config, 'GET', '/pixstore-image/album%253Aabc', undefined).kind, 'reply', 'decoded once only')
  })

  it('puts Referrer-Policy, Vary and the allowed origin on every answer under the route, and leaves other paths alone', () => {
    for (const [method, url] of [['GET', '/pixstore-image/abc'], ['GET', '/pixstore-image/'], ['POST', '/pixstore-image/abc'], ['OPTIONS', '/pixstore-image/abc']] as const) {
      const decision = decideImageRequest(config, method, url, 'http://app.example')
      assert.ok(decision.kind !== 'outside', url)
      assert.equal(decision.headers['Referrer-Policy'], 'no-referrer', `${method} ${url}`)
      assert.equal(decision.headers.Vary, 'Origin')
      assert.equal(decision.headers['Access-Control-Allow-Origin'], 'http://app.example')
    }
    const foreign = decideImageRequest(config, 'GET', '/pixstore-image/abc', 'http://evil.example')
    assert.equal(foreign.kind !== 'outside' && foreign.headers['Access-Control-Allow-Origin'], undefined)
    for (const url of ['/', '/pixstore-images/abc', '/other/pixstore-image/abc']) assert.equal(decideImageRequest(config, 'GET', url, undefined).kind, 'outside', url)
  })
})
