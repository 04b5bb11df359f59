import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BackendLocation as WorkerConfig } from '../protocol/workerConfig'
import { matchPixstoreRequest } from './matchPixstoreRequest'

const config: WorkerConfig = { backendOrigin: 'https://api.example.com:7482', route: '/pixstore-image' }
const own = 'https://app.example.com'

function match(url: string, current: WorkerConfig | null = config): unknown {
  const callback = matchPixstoreRequest(() => current, own)
  const parsed = new URL(url)
  return callback({ url: parsed, sameOrigin: parsed.origin === own, request: new Request(url), event: {} as ExtendableEvent })
}

describe('matchPixstoreRequest', () => {
  it('matches {route}/{id} on the own and the backend origin', () => {
    assert.deepEqual(match('https://app.example.com/pixstore-image/abc_D-9'), { id: 'abc_D-9' })
    assert.deepEqual(match('https://api.example.com:7482/pixstore-image/students:kth1'), { id: 'students:kth1' })
    assert.deepEqual(match('https://app.example.com/pixstore-image/students%3Akth1?v=2#x'), { id: 'students:kth1' })
  })

  it('passes everything else through', () => {
    for (const url of [
      'https://app.example.com/pixstore-image',
      'https://app.example.com/pixstore-image/',
      'https://app.example.com/pixstore-image/a/b',
      'https://app.example.com/pixstore-image/a.png',
      'https://app.example.com/pixstore-image/%2e%2e',
      'https://app.example.com/pixstore-image/%E0%A4%A',
      'https://app.example.com/pixstore-imagex/abc',
      'https://app.example.com/other/abc',
      'https://api.example.com/pixstore-image/abc',
      'http://api.example.com:7482/pixstore-image/abc',
      'https://evil.example.com/pixstore-image/abc',
    ]) {
      assert.equal(match(url), false, url)
    }
  })

  it('passes everything through while the worker has no config', () => {
    assert.equal(match('https://app.example.com/pixstore-image/abc', null), false)
  })
})
