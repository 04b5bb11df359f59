import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ImageRecord } from '../protocol/record'
import { PageRecords } from './pageRecords'
import { LOGOUT_MARK_KEY, PageSession } from './session'

const record = (id: string): ImageRecord => ({ id, token: 1, meta: { key: 'k', iv: 'i', tag: 't' }, statelessProof: 'p' })

/** Two tabs sharing one localStorage, with a clock the test moves. */
function twoTabs() {
  const stored = new Map<string, string>()
  const storage = { getItem: (key: string) => stored.get(key) ?? null, setItem: (key: string, value: string) => void stored.set(key, value) }
  let time = 1000
  const now = () => time
  const tab = () => {
    const records = new PageRecords()
    return { records, session: new PageSession(records, () => storage, now) }
  }
  return { first: tab(), second: tab(), stored, tick: () => void (time += 1) }
}

describe('PageSession', () => {
  it('forget(): records go, waiting lookups end with null, the page answers nothing until setImageRecords arms it again', async () => {
    const { first } = twoTabs()
    first.records.set(record('a'))
    const waiting = first.records.waitFor('b', 60_000)
    first.session.forget()
    assert.equal(await waiting, null)
    assert.equal(first.records.get('a'), undefined)
    assert.equal(first.session.active(), false)
    first.session.armed()
    assert.equal(first.session.active(), true)
  })

  it('a tab that missed the message forgets at its next question, from the mark the logging-out tab left', () => {
    const { first, second, stored, tick } = twoTabs()
    second.records.set(record('a'))
    tick()
    first.session.logOut()
    assert.ok(stored.has(LOGOUT_MARK_KEY))
    assert.equal(second.records.get('a')?.id, 'a', 'nothing told the second tab yet')
    assert.equal(second.session.active(), false)
    assert.equal(second.records.get('a'), undefined)
    const generation = second.session.generation
    tick()
    second.session.armed()
    assert.equal(second.session.active(), true, 'a new login after the mark')
    assert.equal(second.session.generation, generation)
  })

  it('a page loaded after a logout is not affected by its mark', () => {
    const { first, tick } = twoTabs()
    first.session.logOut()
    tick()
    const { session } = twoTabs().first
    assert.equal(session.active(), true)
  })
})
