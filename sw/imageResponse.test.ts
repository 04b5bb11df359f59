import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BROWSER_MEMORY_SECONDS, imageResponse, pageImageResponse } from './imageResponse'

const image = () => imageResponse(new Uint8Array([1, 2, 3]), 'image/png', 42)

describe('pageImageResponse', () => {
  it('lets the browser keep an image in memory only under a URL naming the version served', async () => {
    const versioned = pageImageResponse(image(), 'https://app.example/pixstore-image/abc?v=42', 42)
    assert.equal(versioned.headers.get('cache-control'), `private, max-age=${BROWSER_MEMORY_SECONDS}`)
    assert.deepEqual([...new Uint8Array(await versioned.arrayBuffer())], [1, 2, 3])
    for (const url of ['https://app.example/pixstore-image/abc', 'https://app.example/pixstore-image/abc?v=41', 'https://app.example/pixstore-image/abc?version=42']) {
      assert.equal(pageImageResponse(image(), url, 42).headers.get('cache-control'), 'no-cache', url)
    }
  })

  it('keeps type, length and token, and adds no key or proof', () => {
    const response = pageImageResponse(image(), 'https://app.example/pixstore-image/abc?v=42', 42)
    assert.deepEqual([...response.headers.keys()].sort(), ['cache-control', 'content-length', 'content-type', 'x-pixstore-token'])
  })
})
