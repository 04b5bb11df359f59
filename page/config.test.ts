import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseWorkerConfig, workerConfigFromScriptUrl, workerScriptUrl } from '../protocol/workerConfig'
import { DEFAULT_CONFIG } from '../server/config'
import { PixstoreFrontendConfigError, resolveBackendOrigin, resolveFrontendConfig } from './config'

const page = 'https://app.example.com/gallery/index.html'

describe('resolveFrontendConfig', () => {
  it('fills the defaults and makes every URL absolute', () => {
    assert.deepEqual(resolveFrontendConfig({ defaultEndpointConnectHost: 'api.example.com' }, page), {
      worker: { backendOrigin: 'https://api.example.com:7482', route: '/pixstore-image', imageCache: { maxEntries: 500, maxAgeSeconds: 604800, persist: true }, proofTransport: 'auto', maxImageBytes: 25 * 1024 * 1024 },
      serviceWorkerUrl: 'https://app.example.com/pixstore-sw.js',
      scope: 'https://app.example.com/',
    })
  })

  it('takes the given route, worker URL and scope', () => {
    const resolved = resolveFrontendConfig(
      { defaultEndpointConnectHost: 'https://api.example.com', defaultEndpointConnectPort: 443, defaultEndpointRoute: '/img/v2', serviceWorkerUrl: 'sw.js', scope: './' },
      page,
    )
    assert.deepEqual(resolved, {
      worker: { backendOrigin: 'https://api.example.com', route: '/img/v2', imageCache: { maxEntries: 500, maxAgeSeconds: 604800, persist: true }, proofTransport: 'auto', maxImageBytes: 25 * 1024 * 1024 },
      serviceWorkerUrl: 'https://app.example.com/gallery/sw.js',
      scope: 'https://app.example.com/gallery/',
    })
  })

  it('fills the image cache defaults around the given limits and keeps the callbacks', () => {
    const refreshRecords = async () => []
    const onImageError = () => {}
    const resolved = resolveFrontendConfig({ defaultEndpointConnectHost: 'a', imageCache: { maxEntries: 3, persist: false }, refreshRecords, onImageError }, page)
    assert.deepEqual(resolved.worker.imageCache, { maxEntries: 3, maxAgeSeconds: 604800, persist: false })
    assert.equal(resolved.refreshRecords, refreshRecords)
    assert.equal(resolved.onImageError, onImageError)
  })

  it('takes proofTransport and carries it through the worker script URL; an older URL without it means auto', () => {
    for (const proofTransport of ['auto', 'query', 'headers'] as const) {
      const { worker } = resolveFrontendConfig({ defaultEndpointConnectHost: 'a', proofTransport }, page)
      assert.equal(worker.proofTransport, proofTransport)
      assert.deepEqual(workerConfigFromScriptUrl(workerScriptUrl('/pixstore-sw.js', worker, page)), worker)
    }
    const { worker } = resolveFrontendConfig({ defaultEndpointConnectHost: 'a' }, page)
    const old = new URL(workerScriptUrl('/pixstore-sw.js', worker, page))
    old.searchParams.delete('proofTransport')
    assert.equal(workerConfigFromScriptUrl(old.href)?.proofTransport, 'auto')
    old.searchParams.set('proofTransport', 'carrier-pigeon')
    assert.equal(workerConfigFromScriptUrl(old.href), null)
  })

  it("takes maxImageBytes and carries it through the worker script URL and a connect message's parse; an older page without it means the backend's default", () => {
    const { worker } = resolveFrontendConfig({ defaultEndpointConnectHost: 'a', maxImageBytes: 100 * 1024 * 1024 }, page)
    assert.equal(worker.maxImageBytes, 100 * 1024 * 1024)
    assert.deepEqual(workerConfigFromScriptUrl(workerScriptUrl('/pixstore-sw.js', worker, page)), worker)
    assert.deepEqual(parseWorkerConfig(worker), worker)
    const old = new URL(workerScriptUrl('/pixstore-sw.js', worker, page))
    old.searchParams.delete('maxImageBytes')
    assert.equal(workerConfigFromScriptUrl(old.href)?.maxImageBytes, DEFAULT_CONFIG.maxImageBytes)
    const { maxImageBytes: _, ...olderMessage } = worker
    assert.equal(parseWorkerConfig(olderMessage)?.maxImageBytes, DEFAULT_CONFIG.maxImageBytes)
    for (const wrong of ['lots', '', '0', '-5', '1.5', String(2 ** 31 + 1)]) {
      old.searchParams.set('maxImageBytes', wrong)
      assert.equal(workerConfigFromScriptUrl(old.href), null, wrong)
    }
  })

  it('says so when defaultEndpointConnectHost is missing', () => {
    for (const config of [{}, { defaultEndpointConnectHost: '' }, { defaultEndpointConnectHost: undefined }, { defaultEndpointConnectPort: 7482 }]) {
      assert.throws(() => resolveFrontendConfig(config, page), (error) => error instanceof PixstoreFrontendConfigError && /defaultEndpointConnectHost is missing/.test(error.message))
    }
  })

  it('names the field of every other wrong value', () => {
    const cases: [unknown, RegExp][] = [
      [null, /must be an object/],
      ['api.example.com', /must be an object/],
      [{ defaultEndpointConnectHost: 42 }, /defaultEndpointConnectHost must be a string/],
      [{ defaultEndpointConnectHost: 'api.example.com/images' }, /defaultEndpointConnectHost .*no path/],
      [{ defaultEndpointConnectHost: 'user@api.example.com' }, /defaultEndpointConnectHost .*credentials/],
      [{ defaultEndpointConnectHost: 'api example.com' }, /defaultEndpointConnectHost/],
      [{ defaultEndpointConnectHost: 'ftp://api.example.com' }, /defaultEndpointConnectHost must use http:\/\/ or https:\/\//],
      [{ defaultEndpointConnectHost: 'api.example.com:99999' }, /defaultEndpointConnectHost/],
      [{ defaultEndpointConnectHost: 'a', defaultEndpointConnectPort: 0 }, /defaultEndpointConnectPort must be an integer from 1 to 65535, got 0/],
      [{ defaultEndpointConnectHost: 'a', defaultEndpointConnectPort: '7482' }, /defaultEndpointConnectPort .* got "7482"/],
      [{ defaultEndpointConnectHost: 'a', defaultEndpointConnectPort: 7482.5 }, /defaultEndpointConnectPort/],
      [{ defaultEndpointConnectHost: 'a', defaultEndpointRoute: 'pixstore-image' }, /defaultEndpointRoute must be a path/],
      [{ defaultEndpointConnectHost: 'a', defaultEndpointRoute: '/pixstore-image/' }, /defaultEndpointRoute/],
      [{ defaultEndpointConnectHost: 'a', serviceWorkerUrl: 'https://cdn.example.com/sw.js' }, /serviceWorkerUrl .* must be on the page's origin/],
      [{ defaultEndpointConnectHost: 'a', serviceWorkerUrl: '' }, /serviceWorkerUrl must be a non-empty URL/],
      [{ defaultEndpointConnectHost: 'a', scope: '/admin/' }, /scope .* does not cover this page/],
      [{ defaultEndpointConnectHost: 'a', scope: 5 }, /scope must be/],
      [{ defaultEndpointConnectHost: 'a', defaultEndpointConectPort: 1 }, /Unknown config field "defaultEndpointConectPort"/],
      [{ defaultEndpointConnectHost: 'a', refreshRecords: '/api/records' }, /refreshRecords must be a function/],
      [{ defaultEndpointConnectHost: 'a', onImageError: true }, /onImageError must be a function/],
      [{ defaultEndpointConnectHost: 'a', imageCache: 500 }, /imageCache must be an object/],
      [{ defaultEndpointConnectHost: 'a', imageCache: { maxEntry: 5 } }, /Unknown imageCache field "maxEntry"/],
      [{ defaultEndpointConnectHost: 'a', imageCache: { maxEntries: 0 } }, /imageCache.maxEntries must be an integer from 1/],
      [{ defaultEndpointConnectHost: 'a', imageCache: { maxEntries: 2.5 } }, /imageCache.maxEntries/],
      [{ defaultEndpointConnectHost: 'a', imageCache: { maxAgeSeconds: -1 } }, /imageCache.maxAgeSeconds must be an integer from 1/],
      [{ defaultEndpointConnectHost: 'a', imageCache: { persist: 'no' } }, /imageCache.persist must be true or false, got "no"/],
      [{ defaultEndpointConnectHost: 'a', proofTransport: 'header' }, /proofTransport must be one of "auto", "query", "headers", got "header"/],
      [{ defaultEndpointConnectHost: 'a', maxImageBytes: 0 }, /maxImageBytes must be an integer from 1 to 2147483648 \(2 GiB\), got 0/],
      [{ defaultEndpointConnectHost: 'a', maxImageBytes: '25MB' }, /maxImageBytes must be an integer from 1 to 2147483648 \(2 GiB\), got "25MB"/],
    ]
    for (const [config, message] of cases) {
      assert.throws(() => resolveFrontendConfig(config, page), (error) => error instanceof PixstoreFrontendConfigError && message.test(error.message), JSON.stringify(config))
    }
  })
})

describe('resolveBackendOrigin', () => {
  it('uses the page scheme when the host has none', () => {
    assert.equal(resolveBackendOrigin('api.example.com', undefined, 'https:'), 'https://api.example.com:7482')
    assert.equal(resolveBackendOrigin('127.0.0.1', undefined, 'http:'), 'http://127.0.0.1:7482')
    assert.equal(resolveBackendOrigin('localhost', 9000, 'http:'), 'http://localhost:9000')
  })

  it('keeps an explicit scheme and normalizes case, trailing slash and default ports', () => {
    assert.equal(resolveBackendOrigin('HTTP://API.Example.com/', 8080, 'https:'), 'http://api.example.com:8080')
    assert.equal(resolveBackendOrigin('https://api.example.com', 443, 'http:'), 'https://api.example.com')
    assert.equal(resolveBackendOrigin('http://api.example.com', 80, 'https:'), 'http://api.example.com')
  })

  it('lets a port in the host win over the default, and refuses a contradicting explicit port', () => {
    assert.equal(resolveBackendOrigin('api.example.com:9000', undefined, 'https:'), 'https://api.example.com:9000')
    assert.equal(resolveBackendOrigin('https://api.example.com:443', undefined, 'http:'), 'https://api.example.com')
    assert.equal(resolveBackendOrigin('127.0.0.1:9000', 9000, 'http:'), 'http://127.0.0.1:9000')
    assert.throws(() => resolveBackendOrigin('127.0.0.1:9000', 7482, 'http:'), /has port 9000 but defaultEndpointConnectPort is 7482/)
  })

  it('understands IPv6 literals with and without brackets', () => {
    assert.equal(resolveBackendOrigin('::1', undefined, 'http:'), 'http://[::1]:7482')
    assert.equal(resolveBackendOrigin('[::1]', 9000, 'http:'), 'http://[::1]:9000')
    assert.equal(resolveBackendOrigin('http://[2001:db8::1]:8443', undefined, 'https:'), 'http://[2001:db8::1]:8443')
  })

  it('refuses a scheme-less host on a page that is not http(s)', () => {
    assert.throws(() => resolveBackendOrigin('api.example.com', undefined, 'file:'), /no scheme .* write it with https:\/\//)
    assert.equal(resolveBackendOrigin('https://api.example.com', undefined, 'file:'), 'https://api.example.com:7482')
  })
})
