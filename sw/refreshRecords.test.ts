import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ImageRecord } from '../protocol/record'
import { ImageFailure, type ImageFailureState } from './imageFailure'
import { PROOF_REFRESH_MARGIN_MS, withRecordRefresh } from './refreshRecords'

const record = (proof: string, proofExpiresAt?: number): ImageRecord => ({
  id: 'a',
  token: 1,
  meta: { key: 'k', iv: 'i', tag: 't' },
  statelessProof: proof,
  ...(proofExpiresAt === undefined ? {} : { proofExpiresAt }),
})
const NOW = 1_000_000

/** Runs the rule with a held record (or none), a refresh answer, and a backend that answers per proof. */
async function run(held: ImageRecord | null, fresh: ImageRecord | null, backend: (proof: string) => ImageFailureState | 'ok') {
  const calls = { refresh: 0, attempts: [] as string[] }
  const result = withRecordRefresh(
    {
      lookup: async () => held,
      refresh: async () => (calls.refresh++, fresh),
    },
    async (r) => {
      calls.attempts.push(r.statelessProof)
      const answer = backend(r.statelessProof)
      if (answer !== 'ok') throw new ImageFailure(answer, `backend said ${answer}`)
      return `image with ${r.statelessProof}`
    },
    () => new ImageFailure('NoRecord', 'no record'),
    () => NOW,
  )
  return { result, calls }
}

const state = async (promise: Promise<unknown>) => {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    return (error as ImageFailure).state
  }
}

describe('withRecordRefresh: one retry with a fresh record', () => {
  it('a valid proof: one attempt, no refresh', async () => {
    const { result, calls } = await run(record('good'), record('fresh'), () => 'ok')
    assert.equal(await result, 'image with good')
    assert.deepEqual(calls, { refresh: 0, attempts: ['good'] })
  })

  for (const refused of ['InvalidProof', 'MissingProof'] as const) {
    it(`${refused}: refreshes once and retries with the fresh record`, async () => {
      const { result, calls } = await run(record('stale'), record('fresh'), (proof) => (proof === 'fresh' ? 'ok' : refused))
      assert.equal(await result, 'image with fresh')
      assert.deepEqual(calls, { refresh: 1, attempts: ['stale', 'fresh'] })
    })
  }

  it('a fresh record that is refused too: the second failure is final, no third attempt', async () => {
    const { result, calls } = await run(record('stale'), record('also-bad'), () => 'InvalidProof')
    assert.equal(await state(result), 'InvalidProof')
    assert.deepEqual(calls, { refresh: 1, attempts: ['stale', 'also-bad'] })
  })

  it('no fresh record: the original failure stands', async () => {
    const { result, calls } = await run(record('stale'), null, () => 'InvalidProof')
    assert.equal(await state(result), 'InvalidProof')
    assert.deepEqual(calls, { refresh: 1, attempts: ['stale'] })
  })

  it('failures a proof cannot fix are not retried', async () => {
    for (const failure of ['NotFound', 'DecryptionFailed', 'BackendUnreachable'] as const) {
      const { result, calls } = await run(record('good'), record('fresh'), () => failure)
      assert.equal(await state(result), failure)
      assert.deepEqual(calls, { refresh: 0, attempts: ['good'] })
    }
  })

  it('no record anywhere: refresh, then one attempt with it', async () => {
    const { result, calls } = await run(null, record('fresh'), () => 'ok')
    assert.equal(await result, 'image with fresh')
    assert.deepEqual(calls, { refresh: 1, attempts: ['fresh'] })
  })

  it('no record and no refresh: NoRecord without touching the backend', async () => {
    const { result, calls } = await run(null, null, () => 'ok')
    assert.equal(await state(result), 'NoRecord')
    assert.deepEqual(calls, { refresh: 1, attempts: [] })
  })

  it('a refreshed record that is then refused is not refreshed a second time', async () => {
    const { result, calls } = await run(null, record('fresh-but-refused'), () => 'InvalidProof')
    assert.equal(await state(result), 'InvalidProof')
    assert.deepEqual(calls, { refresh: 1, attempts: ['fresh-but-refused'] })
  })

  it('a proof that expired or expires within the margin: refreshed before the fetch, one attempt', async () => {
    for (const expiresAt of [NOW - 5000, NOW, NOW + PROOF_REFRESH_MARGIN_MS - 1]) {
      const { result, calls } = await run(record('stale', expiresAt), record('fresh', NOW + 40_000), (proof) => (proof === 'fresh' ? 'ok' : 'InvalidProof'))
      assert.equal(await result, 'image with fresh')
      assert.deepEqual(calls, { refresh: 1, attempts: ['fresh'] })
    }
  })

  it('a proof with time left, or a 3.x record without proofExpiresAt: no refresh before the fetch', async () => {
    for (const held of [record('good', NOW + PROOF_REFRESH_MARGIN_MS), record('good')]) {
      const { result, calls } = await run(held, record('fresh'), () => 'ok')
      assert.equal(await result, 'image with good')
      assert.deepEqual(calls, { refresh: 0, attempts: ['good'] })
    }
  })

  it('an expiring proof and no fresh record: the held one is tried (the clocks may differ), a refusal is final', async () => {
    const ok = await run(record('old', NOW - 1), null, () => 'ok')
    assert.equal(await ok.result, 'image with old')
    const refused = await run(record('old', NOW - 1), null, () => 'InvalidProof')
    assert.equal(await state(refused.result), 'InvalidProof')
    assert.deepEqual(refused.calls.attempts, ['old'])
  })

  it('a fresh record fetched ahead and then refused is final: one question to the page per request', async () => {
    const { result, calls } = await run(record('stale', NOW - 1), record('also-bad'), () => 'InvalidProof')
    assert.equal(await state(result), 'InvalidProof')
    assert.deepEqual(calls, { refresh: 1, attempts: ['also-bad'] })
  })
})
