import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ImageRecovery, RECOVERY_DELAYS_MS, type ReloadOutcome } from './recovery'

/** A recovery with a manual clock: timers run when the test says, reloads answer what the backend `up` says. */
function harness(images: Set<string>) {
  let up = false
  const timers: { run: () => void; ms: number }[] = []
  const reloads: string[] = []
  const recovery = new ImageRecovery({
    reload: async (id): Promise<ReloadOutcome> => {
      reloads.push(id)
      if (!images.has(id)) return 'gone'
      return up ? 'load' : 'error'
    },
    setTimeout: (run, ms) => timers.push({ run, ms }),
    clearTimeout: (timer) => timers.splice(timers.indexOf(timer as (typeof timers)[number]), 1),
  })
  const next = async () => {
    const timer = timers.shift()
    assert.ok(timer, 'a probe is scheduled')
    timer.run()
    await new Promise((resolve) => setImmediate(resolve))
    return timer.ms
  }
  return { recovery, timers, reloads, next, setUp: (value: boolean) => void (up = value) }
}

describe('ImageRecovery', () => {
  it('probes one image with a bounded doubling backoff while the backend is down, then brings back every waiting image', async () => {
    const { recovery, reloads, next, setUp, timers } = harness(new Set(['a', 'b', 'c']))
    for (const id of ['a', 'b', 'c']) assert.equal(recovery.failed(id, 'BackendUnreachable'), false, 'a first failure is reported')
    const delays: number[] = []
    for (let i = 0; i < 8; i++) delays.push(await next())
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
    assert.deepEqual(reloads, Array(8).fill('a'), 'one request per probe, whatever the number of images')
    assert.equal(recovery.failed('a', 'BackendUnreachable'), true, 'the probe failing again is not reported again')
    setUp(true)
    assert.equal(await next(), RECOVERY_DELAYS_MS.longest)
    assert.deepEqual(reloads.slice(8), ['a', 'b', 'c'])
    assert.equal(recovery.pending, 0)
    assert.equal(timers.length, 0, 'nothing left to probe')
  })

  it('online: probes at once and starts the backoff over', async () => {
    const { recovery, reloads, next, setUp, timers } = harness(new Set(['a']))
    recovery.failed('a', 'InternalError')
    await next()
    await next()
    assert.equal(timers[0]!.ms, 4000)
    setUp(true)
    recovery.online()
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(reloads, ['a', 'a', 'a'])
    assert.equal(recovery.pending, 0)
    assert.equal(timers.length, 0)
  })

  it('other failures are not retried, and end the wait of an image that now fails otherwise; gone images are dropped', async () => {
    const { recovery, reloads, next } = harness(new Set(['b']))
    assert.equal(recovery.failed('x', 'NotFound'), false)
    assert.equal(recovery.pending, 0)
    recovery.failed('a', 'BackendUnreachable')
    recovery.failed('b', 'BackendUnreachable')
    recovery.failed('b', 'CorsRefused')
    assert.equal(recovery.pending, 1)
    await next() // 'a' has no <img> left
    assert.equal(recovery.pending, 0)
    assert.deepEqual(reloads, ['a'])
  })

  it('clear (logout): nothing waits, nothing is scheduled', () => {
    const { recovery, timers } = harness(new Set(['a']))
    recovery.failed('a', 'BackendUnreachable')
    recovery.clear()
    assert.equal(recovery.pending, 0)
    assert.equal(timers.length, 0)
  })
})
