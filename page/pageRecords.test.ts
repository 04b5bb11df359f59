import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ImageRecord } from '../protocol/record'
import { PageRecords } from './pageRecords'

const record = (id: string, token = 1): ImageRecord => ({ id, token, meta: { key: 'K', iv: 'I', tag: 'T' }, statelessProof: 'p' })

describe('PageRecords', () => {
  it('answers at once for a known record and replaces it by a later one', async () => {
    const records = new PageRecords()
    records.set(record('a', 1))
    records.set(record('a', 2))
    assert.deepEqual(await records.waitFor('a', 1000), record('a', 2))
  })

  it('lets a lookup wait until the record is set', async () => {
    const records = new PageRecords()
    const waiting = [records.waitFor('a', 1000), records.waitFor('a', 1000)]
    setTimeout(() => records.set(record('a')), 20)
    assert.deepEqual(await Promise.all(waiting), [record('a'), record('a')])
  })

  it('gives null after the timeout, and still serves later lookups', async () => {
    const records = new PageRecords()
    const started = Date.now()
    assert.equal(await records.waitFor('a', 50), null)
    assert.ok(Date.now() - started >= 45)
    records.set(record('a'))
    assert.deepEqual(await records.waitFor('a', 50), record('a'))
  })
})
