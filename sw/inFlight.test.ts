import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InFlight } from './inFlight'

describe('InFlight', () => {
  it('runs one task per key at a time and starts afresh once it settled', async () => {
    const inFlight = new InFlight<number>()
    let runs = 0
    const task = async () => {
      const run = ++runs
      await new Promise((resolve) => setTimeout(resolve, 10))
      return run
    }
    assert.deepEqual(await Promise.all([inFlight.run('a', task), inFlight.run('a', task), inFlight.run('b', task)]), [1, 1, 2])
    assert.equal(await inFlight.run('a', task), 3)
  })

  it('shares a failure with every waiter, then forgets it', async () => {
    const inFlight = new InFlight<number>()
    const failure = new Error('down')
    let runs = 0
    const failing = async (): Promise<number> => {
      runs++
      await null
      throw failure
    }
    const waiters = [inFlight.run('a', failing), inFlight.run('a', failing), inFlight.run('a', failing)]
    const outcomes = await Promise.allSettled(waiters)
    assert.equal(runs, 1, 'one task ran for the three waiters')
    for (const outcome of outcomes) assert.ok(outcome.status === 'rejected' && outcome.reason === failure, 'each waiter got that one failure')
    assert.equal(await inFlight.run('a', async () => 5), 5)
  })

  it('keeps a resolved result joinable while busy(result) runs (a stream still arriving), then starts afresh', async () => {
    const inFlight = new InFlight<{ run: number; streamed: Promise<void> }>()
    let runs = 0
    let endStream!: () => void
    const task = async () => ({ run: ++runs, streamed: new Promise<void>((resolve) => (endStream = resolve)) })
    const busy = (result: { streamed: Promise<void> }) => result.streamed
    const first = await inFlight.run('a', task, busy)
    const joined = await inFlight.run('a', task, busy)
    assert.equal(joined, first, 'a call while the result streams gets that result')
    assert.equal(runs, 1)
    endStream()
    await first.streamed
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal((await inFlight.run('a', task, busy)).run, 2, 'once it settled, a new call runs the task again')
  })

  it('forgets a result whose busy promise rejects', async () => {
    const inFlight = new InFlight<number>()
    let runs = 0
    const task = async () => ++runs
    assert.equal(await inFlight.run('a', task, () => Promise.reject(new Error('stream failed'))), 1)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(await inFlight.run('a', task), 2)
  })
})
