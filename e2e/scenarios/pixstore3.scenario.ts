/**
 * A site that upgrades its frontend before its backend, in every engine: the
 * worker against the published Pixstore 3.2.1 endpoint (npm `pixstore@3.2.1`,
 * dev dependency `pixstore-v3`) on another origin, with no app change. 3.x
 * reads the proof only from headers, so the query form is answered
 * MissingProof once; the worker then uses headers for that backend. A logging
 * pass-through proxy in front of the 3.x endpoint shows which form each
 * request used.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { freePort } from '../../testing/freePort'
import { startPassThroughProxy, type PassThroughProxy } from '../../testing/passThroughProxy'
import { addImage, expectPicture, imageErrors, imageSettled, openTabLoggingErrors, postRecords, routeSrc } from '../browser'
import { expect, test, type BrowserSession, type Tab } from '../engines'
import { fixturePath, startSite, type FixtureName, type ImageRecord, type TestSite } from '../harness'

interface PixstoreV3 {
  initPixstoreBackend(config: Record<string, unknown>): void
  saveImageFromFile(file: string): Promise<ImageRecord | null>
  getImageRecord(id: string): Promise<ImageRecord | null>
}

const NAMES: FixtureName[] = ['sunset-gradient.png', 'ocean-waves.jpg', 'lime-triangles.webp']

let v3: PixstoreV3
let dir: string
let proxy: PassThroughProxy
let site: TestSite
const saved: string[] = []

test.beforeAll(async () => {
  v3 = (await import('pixstore-v3/backend/index.js')) as unknown as PixstoreV3
  dir = await mkdtemp(path.join(tmpdir(), 'pixstore-v3-e2e-'))
  const port = await freePort()
  // Exactly as its README starts it: module-level config, its own endpoint.
  v3.initPixstoreBackend({
    defaultEndpointListenHost: '127.0.0.1',
    defaultEndpointListenPort: port,
    imageRootDir: path.join(dir, 'images'),
    databasePath: path.join(dir, 'pixstore3.sqlite'),
    statelessKeyWindowLength: 10 * 60_000,
    errorHandlingMode: 'throw',
  })
  for (const name of NAMES) saved.push((await v3.saveImageFromFile(fixturePath(name)))!.id)
  proxy = await startPassThroughProxy(`http://127.0.0.1:${port}`)
  site = await startSite()
})

test.afterAll(async () => {
  await site?.close()
  await proxy?.close()
  await rm(dir, { recursive: true, force: true })
})

async function openOn3x(session: BrowserSession, extra: Record<string, unknown> = {}): Promise<{ tab: Tab; records: ImageRecord[] }> {
  const tab = await openTabLoggingErrors(session, `${site.origin}/test.html?backend=${proxy.port}`, extra)
  const records = await Promise.all(saved.map(async (id) => (await v3.getImageRecord(id))!))
  await postRecords(tab, records)
  return { tab, records }
}

test('default config against a Pixstore 3.2.1 backend on another origin: every image shows; one query-form request, headers from then on', async ({ session }) => {
  proxy.requests.length = 0
  const { tab, records } = await openOn3x(session)
  // One at a time, so the first answer has taught the worker before the next request.
  for (const [i, name] of NAMES.entries()) {
    await addImage(tab, name, routeSrc(records[i]!.id))
    expect(await imageSettled(tab, name), `${name} shows`).toBe('load')
    await expectPicture(tab, name, name)
  }
  expect(await imageErrors(tab), 'no onImageError').toEqual([])
  const gets = proxy.requests.filter((request) => request.method === 'GET')
  expect(gets.map((request) => request.proofIn), 'the query form once (answered MissingProof), then headers for every image').toEqual(['query', 'header', 'header', 'header'])
})

test("proofTransport: 'query' against 3.2.1: no fallback, the image fails with MissingProof", async ({ session }) => {
  proxy.requests.length = 0
  const { tab, records } = await openOn3x(session, { proofTransport: 'query' })
  await addImage(tab, 'forced-query', routeSrc(records[0]!.id))
  expect(await imageSettled(tab, 'forced-query')).toBe('error')
  await expect.poll(() => imageErrors(tab)).toEqual([{ id: records[0]!.id, state: 'MissingProof', status: 403 }])
  const gets = proxy.requests.filter((request) => request.method === 'GET')
  expect(gets.length, 'the worker did ask the backend').toBeGreaterThan(0)
  expect(gets.every((request) => request.proofIn === 'query'), 'only the query form').toBe(true)
})
