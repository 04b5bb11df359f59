import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { failureResponse } from './failureResponse'
import { ImageFailure, type ImageFailureState } from './imageFailure'

describe('failureResponse', () => {
  it('maps each cause to its status and names it in x-pixstore-state', async () => {
    const expected: [ImageFailureState, number][] = [
      ['NotFound', 404],
      ['NoRecord', 404],
      ['MissingProof', 403],
      ['InvalidProof', 403],
      ['DecryptionFailed', 502],
      ['InvalidPayload', 502],
      ['InternalError', 502],
      ['UnexpectedResponse', 502],
      ['BackendUnreachable', 504],
    ]
    for (const [state, status] of expected) {
      const response = failureResponse(new ImageFailure(state, `because ${state}`))
      assert.equal(response.status, status, state)
      assert.equal(response.ok, false)
      assert.equal(response.headers.get('x-pixstore-state'), state)
      assert.equal(response.headers.get('cache-control'), 'no-store')
      assert.match(await response.text(), new RegExp(`because ${state}`))
    }
  })
})
