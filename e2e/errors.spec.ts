/**
 * Failures: a wrong proof, an expired proof, an unknown id, a missing record
 * and a wrong key give the <img> an error event, an x-pixstore-state header,
 * and leave nothing in the cache.
 */
import { expect, test } from '@playwright/test'
import {
  cachedImageExists,
  cacheSnapshot,
  entriesFor,
  expectPicture,
  fetchFromPage,
  openAndInit,
  postRecords,
  routeSrc,
  scanStorageForSecrets,
  showImage,
} from './browser'
import { fixturePath, startExtraBackend, useHarness, type FixtureName, type ImageRecord } from './harness'

const h = useHarness()

/** Changes one character of a proof, keeping it a well-formed header value. */
function tamper(proof: string): string {
  const last = proof.at(-1)!
  return proof.slice(0, -1) + (last === 'A' ? 'B' : 'A')
}

test('wrong proof, unknown id, no record, wrong key: the <img> fires error and nothing is cached', async ({ page }) => {
  const save = async (file: FixtureName) => {
    const record = await h.backend.saveImageFromFile(fixturePath(file))
    h.recordsUsed.push(record)
    return record
  }
  const good = await save('rainbow-stripes.gif')
  const forProof = await save('radial-glow.jpg')
  const forKey = await save('pixel-heart.gif')
  const neverPosted = await save('lime-triangles.webp')
  const missingId = 'e2e-no-such-image'

  const cases: { name: string; id: string; record: ImageRecord | null; status: number; state: string }[] = [
    { name: 'wrong proof', id: forProof.id, record: { ...forProof, statelessProof: tamper(forProof.statelessProof) }, status: 403, state: 'InvalidProof' },
    {
      name: 'unknown id',
      id: missingId,
      record: { id: missingId, token: 1, meta: good.meta, statelessProof: h.backend.createStatelessProof(missingId) },
      status: 404,
      state: 'NotFound',
    },
    { name: 'no record anywhere', id: neverPosted.id, record: null, status: 404, state: 'NoRecord' },
    { name: 'wrong key', id: forKey.id, record: { ...forKey, meta: forProof.meta }, status: 502, state: 'DecryptionFailed' },
  ]

  await openAndInit(page, h)
  await postRecords(page, [good, ...cases.flatMap((c) => (c.record ? [c.record] : []))])
  h.recordsUsed.push(...cases.flatMap((c) => (c.record ? [c.record] : [])))

  // Control: the page and worker work for a correct record.
  expect((await showImage(page, 'good', { src: routeSrc(good.id) })).ok, 'a correct record shows').toBe(true)
  await expectPicture(page, 'good', 'rainbow-stripes.gif')

  for (const c of cases) {
    const backendBefore = h.backend.requestsFor(c.id).length
    const shown = await showImage(page, c.name, { src: routeSrc(c.id) })
    expect(shown.ok, `${c.name}: the <img> fires error`).toBe(false)
    expect(shown.naturalWidth, `${c.name}: nothing decoded`).toBe(0)
    if (c.record) expect(h.backend.requestsFor(c.id).length, `${c.name}: the worker asked the backend`).toBeGreaterThan(backendBefore)

    const answer = await fetchFromPage(page, routeSrc(c.id))
    expect(answer.status, `${c.name}: HTTP status from the worker`).toBe(c.status)
    expect(answer.state, `${c.name}: x-pixstore-state header`).toBe(c.state)
  }

  await expect.poll(() => cachedImageExists(page, good.id), { message: 'the good image is cached' }).toBe(true)
  const entries = await cacheSnapshot(page)
  for (const c of cases) {
    expect(await cachedImageExists(page, c.id), `${c.name}: cachedImageExists`).toBe(false)
    expect(entriesFor(entries, c.id).map((e) => e.url), `${c.name}: Cache Storage entries`).toEqual([])
  }
  expect((await scanStorageForSecrets(page, h.recordsUsed)).hits, 'keys or proofs stored in the browser').toEqual([])
})

test('an expired proof (past two short windows) fires error and caches nothing; a fresh proof works', async ({ page }) => {
  const windowLength = 2000
  const short = await startExtraBackend({ statelessKeyWindowLength: windowLength })
  h.site.backends.set(short.port, short)
  try {
    const saved = await short.saveImageFromFile(fixturePath('traffic-light.gif'))
    const stale = await short.getImageRecord(saved.id)
    // Proofs are valid in their window and the next one: wait past both.
    await page.waitForTimeout(2 * windowLength + 300)

    await openAndInit(page, h, short)
    await postRecords(page, [stale])
    const before = short.requestsFor(saved.id).length
    const shown = await showImage(page, 'expired', { src: routeSrc(saved.id) })
    expect(shown.ok, 'an expired proof: the <img> fires error').toBe(false)
    expect(short.requestsFor(saved.id).length, 'the worker asked the backend').toBeGreaterThan(before)
    const answer = await fetchFromPage(page, routeSrc(saved.id))
    expect(answer.status).toBe(403)
    expect(answer.state).toBe('InvalidProof')
    expect(await cachedImageExists(page, saved.id), 'expired: cachedImageExists').toBe(false)
    expect(entriesFor(await cacheSnapshot(page), saved.id), 'expired: Cache Storage entries').toEqual([])

    // Control: the same image with a fresh proof shows, so it really was the expiry.
    const fresh = await short.getImageRecord(saved.id)
    await postRecords(page, [fresh])
    expect((await showImage(page, 'fresh', { src: routeSrc(saved.id) })).ok, 'a fresh proof shows').toBe(true)
    await expectPicture(page, 'fresh', 'traffic-light.gif')
    expect((await scanStorageForSecrets(page, [stale, fresh])).hits).toEqual([])
  } finally {
    h.site.backends.delete(short.port)
    await short.close()
  }
})
