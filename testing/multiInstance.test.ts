// Several Pixstore instances on one PostgreSQL database behind nginx: real
// processes, a real cluster, a real balancer (the scenarios 1-4;
// scenario 5, a page in Chromium, is e2e/balancer.spec.ts).
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { decodeWirePayload, PixstoreState, type WirePayload } from '../protocol/wire'
import type { ImageRecord } from '../server/index'
import { fixtureImages, openPayload, proofHeaders, readFixture } from './testSupport'
import { getBytes, runLanes, startDeployment, type Deployment } from './deployment'

const ROUTE = '/pixstore-image'

describe('three instances on one PostgreSQL behind nginx', () => {
  let d: Deployment
  let agent: http.Agent
  const images = [...fixtureImages('png'), ...fixtureImages('jpg'), ...fixtureImages('webp')].map(readFixture)
  before(async () => {
    d = await startDeployment(3)
    agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  })
  after(async () => {
    agent?.destroy()
    await d?.stop()
  })

  const wire = async (base: string, record: ImageRecord, withToken = true): Promise<WirePayload> => {
    const { status, body } = await getBytes(agent, `${base}${ROUTE}/${record.id}`, proofHeaders(record, withToken))
    assert.equal(status, 200)
    return decodeWirePayload(new Uint8Array(body))
  }
  const servedCounts = () => Promise.all(d.instances.filter((i) => i.alive).map((i) => i.served()))

  it('1. a record from instance A loads through the balancer whichever instance answers', async () => {
    const [a] = d.instances
    const record = await a!.save(images[0]!)
    const before = await servedCounts()
    for (let i = 0; i < 30; i++) {
      const payload = await wire(d.balancer.url, record, i % 2 === 0)
      assert.deepEqual(openPayload(payload, record).image, images[0])
    }
    const after = await servedCounts()
    after.forEach((count, i) => assert.ok(count > before[i]!, `instance ${d.instances[i]!.name} answered some of the requests`))
    for (const instance of d.instances) assert.equal((await wire(instance.url, record)).state, PixstoreState.Success, `directly on ${instance.name}`)
  })

  it('2. an update on one instance is seen by every instance at once', async () => {
    const [a, b] = d.instances
    const record = await a!.save(images[0]!)
    for (const instance of d.instances) assert.equal((await wire(instance.url, record)).state, PixstoreState.Success)
    const newer = await b!.update(record.id, images[1]!)
    // No waiting: the update has committed once update() returned.
    for (const instance of d.instances) {
      const stale = await wire(instance.url, record)
      assert.equal(stale.state, PixstoreState.Updated, `${instance.name} no longer answers Success for the old token`)
      const opened = openPayload(stale, record)
      assert.equal(opened.token, newer.token)
      assert.deepEqual(opened.image, images[1])
      assert.equal((await wire(instance.url, newer)).state, PixstoreState.Success, `${instance.name} knows the new token`)
    }
  })

  it('3. 30 concurrent updates from two instances during 500 reads through the balancer: every read decrypts', async () => {
    const [a, b] = d.instances
    const record = await a!.save(images[0]!)
    const updates = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a! : b!).update(record.id, images[i % images.length]!))
    let failures = 0
    let updated = 0
    const reads = runLanes(500, 16, async (i) => {
      const payload = await wire(d.balancer.url, record, i % 3 !== 0)
      try {
        const { image } = openPayload(payload, record)
        if (!images.some((candidate) => candidate.equals(image))) failures++
        if (payload.state === PixstoreState.Updated) updated++
      } catch {
        failures++
      }
    })
    const [written] = await Promise.all([Promise.all(updates), reads])
    assert.equal(failures, 0, 'reads that failed to decrypt to a saved version')
    assert.ok(updated > 0, 'reads saw the updates')
    const tokens = written.map((r) => r.token)
    assert.equal(new Set(tokens).size, 30, 'every update got its own token across instances')
    const final = await d.instances[2]!.record(record.id)
    assert.equal(final.token, Math.max(...tokens), 'the last committed update is the current version everywhere')
  })

  it('4. SIGKILL of one instance under 64 connections: 0 failed loads, the others keep serving', async () => {
    const [a, , c] = d.instances
    const saved = await Promise.all(images.slice(0, 4).map((image) => a!.save(image)))
    const expected = new Map(saved.map((record, i) => [record.id, images[i]!]))
    const total = 3000
    let done = 0
    let failures = 0
    const errors: string[] = []
    let killedAt = -1
    const killing = (async () => {
      while (done < total / 4) await new Promise((resolve) => setTimeout(resolve, 5))
      killedAt = done
      await c!.kill()
    })()
    await runLanes(total, 64, async (i) => {
      const record = saved[i % saved.length]!
      try {
        const { status, body } = await getBytes(agent, `${d.balancer.url}${ROUTE}/${record.id}`, proofHeaders(record))
        const payload = decodeWirePayload(new Uint8Array(body))
        if (status !== 200 || !openPayload(payload, record).image.equals(expected.get(record.id)!)) throw new Error(`status ${status}, state ${payload.state}`)
      } catch (error) {
        failures++
        if (errors.length < 5) errors.push(String(error))
      }
      done++
    })
    await killing
    assert.ok(killedAt > 0 && killedAt < total, 'the kill happened mid-load')
    assert.equal(c!.alive, false)
    assert.equal(failures, 0, `failed image loads: ${errors.join('; ')}`)
    const before = await servedCounts()
    for (let i = 0; i < 20; i++) assert.equal((await wire(d.balancer.url, saved[0]!)).state, PixstoreState.Success)
    const after = await servedCounts()
    assert.equal(after.reduce((x, y) => x + y, 0) - before.reduce((x, y) => x + y, 0), 20, 'the survivors answer everything')
  })
})
