import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BROWSER_MEMORY_SECONDS, imageResponse, pageCacheControl, pageImageResponse } from './imageResponse'

const image = () => imageResponse(new Uint8Array([1, 2, 3]), 'image/png', 42)

describe('pageCacheControl', () => {
  it('lets the browser keep an image in memory only under a URL naming the version served', () => {
    assert.equal(pageCacheControl('https://app.example/pixstore-image/abc?v=42', 42), `private, max-age=${BROWSER_MEMORY_SECONDS}`)
    for (const url of ['https://app.example/pixstore-image/abc', 'https://app.example/pixstore-image/abc?v=41', 'https://app.example/pixstore-image/abc?version=42']) {
      assert.equal(pageCacheControl(url, 42), 'no-cache', url)
    }
  })
})

describe('pageImageResponse', () => {
  it('answers a cached image with its bytes and the page Cache-Control', async () => {
    const versioned = await pageImageResponse(image(), 'https://app.example/pixstore-image/abc?v=42', 42)
    assert.equal(versioned.headers.get('cache-control'), `private, max-age=${BROWSER_MEMORY_SECONDS}`)
    assert.deepEqual([...new Uint8Array(await versioned.arrayBuffer())], [1, 2, 3])
    assert.equal((await pageImageResponse(image(), 'https://app.example/pixstore-image/abc', 42)).headers.get('cache-control'), 'no-cache')
  })

  it('keeps type, length and token, and adds no key or proof', async () => {
    const response = await pageImageResponse(image(), 'https://app.example/pixstore-image/abc?v=42', 42)
    assert.deepEqual([...response.headers.keys()].sort(), ['cache-control', 'content-length', 'content-type', 'x-pixstore-token'])
    assert.equal(response.headers.get('content-length'), '3')
    assert.equal(response.headers.get('content-type'), 'image/png')
    assert.equal(response.headers.get('x-pixstore-token'), '42')
  })
})
