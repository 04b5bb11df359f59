import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RECORD_LOOKUP_TIMEOUT_MS, RECORD_WAIT_MS, REFRESH_LOOKUP_TIMEOUT_MS, REFRESH_TIMEOUT_MS, WORKER_TIMEOUT_MS } from './defaults'

describe('the page/worker timeout pairs', () => {
  it('the page gives up before the worker stops waiting for it, so the worker always gets an answer', () => {
    // [page's bound, worker's wait for the page]
    const pairs: Array<[string, number, number]> = [
      ['record lookup', RECORD_WAIT_MS, RECORD_LOOKUP_TIMEOUT_MS],
      ['record refresh', REFRESH_TIMEOUT_MS, REFRESH_LOOKUP_TIMEOUT_MS],
    ]
    for (const [name, page, worker] of pairs) {
      assert.ok(page > 0 && worker > 0, name)
      // A margin for one message each way on a busy machine, not just "less".
      assert.ok(worker - page >= 1000, `${name}: page ${page} ms, worker ${worker} ms`)
    }
    // A page request to the worker (setImageRecords, …) outlives the worker's own lookups it may wait on.
    assert.ok(WORKER_TIMEOUT_MS >= RECORD_LOOKUP_TIMEOUT_MS)
  })
})
