import assert from 'node:assert/strict'
import { describe, it, mock } from 'node:test'
import { ErrorPolicy, PixstoreError } from './errors'

const expected = () => Promise.reject(new PixstoreError('Invalid image file', 'ERR_INVALID_IMAGE'))
const unexpected = () => Promise.reject(new Error('disk on fire'))

describe('ErrorPolicy', () => {
  it('hybrid: expected errors are logged and give null, unexpected ones throw', async (t) => {
    const log = t.mock.method(console, 'error', () => {})
    const policy = new ErrorPolicy('hybrid')
    assert.equal(await policy.run(expected), null)
    assert.equal(policy.lastError?.message, 'Invalid image file')
    assert.equal(log.mock.callCount(), 1)
    await assert.rejects(policy.run(unexpected), /disk on fire/)
  })

  it('throw: everything throws, and the expected error is still remembered', async () => {
    const policy = new ErrorPolicy('throw')
    await assert.rejects(policy.run(expected), PixstoreError)
    assert.equal(policy.lastError?.message, 'Invalid image file')
    await assert.rejects(policy.run(unexpected), /disk on fire/)
  })

  it('warn and silent: everything gives null; only warn logs', async (t) => {
    const warn = t.mock.method(console, 'warn', () => {})
    assert.equal(await new ErrorPolicy('warn').run(unexpected), null)
    assert.equal(warn.mock.callCount(), 1)
    assert.equal(await new ErrorPolicy('silent').run(unexpected), null)
    assert.equal(await new ErrorPolicy('silent').run(expected), null)
    assert.equal(warn.mock.callCount(), 1)
  })

  it('custom: every error goes to the handler; without one it refuses', async () => {
    const policy = new ErrorPolicy('custom')
    await assert.rejects(policy.run(expected), /setCustomErrorHandler/)
    const handler = mock.fn()
    policy.customHandler = handler
    assert.equal(await policy.run(unexpected), null)
    assert.equal(handler.mock.callCount(), 1)
    assert.match(String(handler.mock.calls[0]!.arguments[0]), /disk on fire/)
  })

  it('passes results through untouched', async () => {
    assert.equal(await new ErrorPolicy('hybrid').run(async () => 42), 42)
  })
})
