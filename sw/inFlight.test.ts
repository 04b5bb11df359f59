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
    const failing = () => Promise.reject(new Error('down'))
    await Promise.all([assert.rejects(inFlight.run('a', failing), /down/), assert.rejects(inFlight.run('a', failing), /down/)])
    assert.equal(await inFlight.run('a', async () => 5), 5)
  })
})
