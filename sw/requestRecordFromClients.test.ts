import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { answerRequest, type WorkerRequests } from '../protocol/messages'
import type { ImageRecord } from '../protocol/record'
import { requestRecordFromClients } from './requestRecordFromClients'

// Clients exist only in browsers; these stand-ins answer over a real MessageChannel with protocol's answerRequest.
const record = (id: string, proof = 'proof'): ImageRecord => ({
  id,
  token: 1,
  meta: { key: btoa('k'.repeat(32)), iv: btoa('i'.repeat(12)), tag: btoa('t'.repeat(16)) },
  statelessProof: proof,
})

type Answer = (id: string) => unknown
const asked: string[] = []

function client(id: string, answer: Answer | null, refresh: Answer = () => null): Client {
  return {
    id,
    postMessage(message: unknown, transfer: Transferable[]) {
      asked.push(id)
      if (!answer) return
      void answerRequest<WorkerRequests>(
        { data: message, ports: transfer as MessagePort[] },
        {
          getImageRecord: ({ id: wanted }) => answer(wanted) as ImageRecord | null,
          refreshImageRecord: ({ id: wanted }) => refresh(wanted) as ImageRecord | null,
          imageFailed: () => null,
          forgetRecords: () => null,
        },
      )
    },
  } as unknown as Client
}

function clients(...list: Client[]): Clients {
  return {
    get: async (id: string) => list.find((c) => c.id === id),
    matchAll: async () => list,
  } as unknown as Clients
}

const has = (...records: ImageRecord[]): Answer => (id) => records.find((r) => r.id === id) ?? null
const later = (ms: number, answer: Answer): Answer => (id) => new Promise((resolve) => setTimeout(() => resolve(answer(id)), ms))

describe('requestRecordFromClients', () => {
  it('asks the requesting page first and no other when it has the record', async () => {
    asked.length = 0
    const found = await requestRecordFromClients(clients(client('other', has(record('a', 'other'))), client('me', has(record('a', 'mine')))), 'a', 'me', 1000)
    assert.equal(found?.statelessProof, 'mine')
    assert.deepEqual(asked, ['me'])
  })

  it('falls back to the other windows when the requester lacks it', async () => {
    asked.length = 0
    const found = await requestRecordFromClients(
      clients(client('me', has()), client('silent', null), client('slow', later(30, has(record('a', 'slow')))), client('empty', has())),
      'a',
      'me',
      1000,
    )
    assert.equal(found?.statelessProof, 'slow')
    assert.deepEqual(asked, ['me', 'silent', 'slow', 'empty'])
  })

  it('asks every window when the request has no client id', async () => {
    const found = await requestRecordFromClients(clients(client('x', has(record('a')))), 'a', '', 1000)
    assert.equal(found?.id, 'a')
  })

  it('gives up with null within the time bound when no page answers', async () => {
    const started = Date.now()
    assert.equal(await requestRecordFromClients(clients(client('me', null), client('silent', null)), 'a', 'me', 150), null)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 140 && elapsed < 600, `took ${elapsed} ms`)
  })

  it('ignores malformed replies and records for another id', async () => {
    const found = await requestRecordFromClients(
      clients(client('me', () => ({ ...record('a'), token: -1 })), client('wrong', () => record('b')), client('junk', () => 'record')),
      'a',
      'me',
      300,
    )
    assert.equal(found, null)
  })

  it('asks for a fresh record with refreshImageRecord, not for the held one', async () => {
    asked.length = 0
    const found = await requestRecordFromClients(clients(client('me', has(record('a', 'stale')), has(record('a', 'fresh')))), 'a', 'me', 1000, 'refreshImageRecord')
    assert.equal(found?.statelessProof, 'fresh')
  })
})
