import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { answerRequest, type WorkerRequests } from '../protocol/messages'
import type { ImageRecord } from '../protocol/record'
import type { ImageCache } from './imageCache'
import { logOut } from './logout'
import { RecordStore } from './recordStore'

const record = (id: string): ImageRecord => ({ id, token: 1, meta: { key: 'k', iv: 'i', tag: 't' }, statelessProof: 'p' })

describe('logOut', () => {
  it('tells every window to forget and waits for them, forgets the worker records (new generation), then clears the cache', async () => {
    const events: string[] = []
    const records = new RecordStore()
    records.set(record('a'))
    const before = records.generation
    const window = (name: string) => ({
      postMessage(message: unknown, transfer: Transferable[]) {
        void answerRequest<WorkerRequests>({ data: message, ports: transfer as MessagePort[] }, {
          forgetRecords: () => (events.push(`${name} forgot`), null),
          getImageRecord: () => null,
          refreshImageRecord: () => null,
          imageFailed: () => null,
        })
      },
    })
    const clients = { matchAll: async () => [window('tab 1'), window('tab 2')] } as unknown as Clients
    const cache = { clear: async () => (events.push('cache cleared'), 3) } as unknown as ImageCache
    assert.equal(await logOut(records, cache, clients), 3)
    assert.equal(events.at(-1), 'cache cleared')
    assert.deepEqual(events.sort(), ['cache cleared', 'tab 1 forgot', 'tab 2 forgot'])
    assert.equal(records.get('a'), undefined)
    assert.ok(records.generation > before, 'requests started before the logout see a new generation')
  })
})
