/**
 * A site that upgrades its frontend before its backend: the worker against
 * the published Pixstore 3.2.1 endpoint (npm `pixstore@3.2.1`, dev dependency
 * `pixstore-v3`) on another origin, with no app change. 3.x reads the proof
 * only from headers, so the query form is answered MissingProof once; the
 * worker then uses headers for that backend. A logging pass-through proxy in
 * front of the 3.x endpoint shows which form each request used.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { freePort } from '../testing/freePort'
import { startPassThroughProxy, type PassThroughProxy } from '../testing/passThroughProxy'
import { addImage, expectPicture, imageErrors, imageSettled, initFrontendLoggingErrors, postRecords, routeSrc } from './browser'
import { fixturePath, startSite, type FixtureName, type ImageRecord, type TestSite } from './harness'

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

async function openOn3x(page: Page, extra: Record<string, unknown> = {}): Promise<ImageRecord[]> {
  await page.goto(`${site.origin}/test.html?backend=${proxy.port}`)
  await page.waitForFunction(() => window.px !== undefined && window.pxConfig !== undefined)
  await initFrontendLoggingErrors(page, extra)
  const records = await Promise.all(saved.map(async (id) => (await v3.getImageRecord(id))!))
  await postRecords(page, records)
  return records
}

test('default config against a Pixstore 3.2.1 backend on another origin: every image shows; one query-form request, headers from then on', async ({ page }) => {
  proxy.requests.length = 0
  const records = await openOn3x(page)
  // One at a time, so the first answer has taught the worker before the next request.
  for (const [i, name] of NAMES.entries()) {
    await addImage(page, name, routeSrc(records[i]!.id))
    expect(await imageSettled(page, name), `${name} shows`).toBe('load')
    await expectPicture(page, name, name)
  }
  expect(await imageErrors(page), 'no onImageError').toEqual([])
  const gets = proxy.requests.filter((request) => request.method === 'GET')
  expect(gets.map((request) => request.proofIn), 'the query form once (answered MissingProof), then headers for every image').toEqual(['query', 'header', 'header', 'header'])
})

test("proofTransport: 'query' against 3.2.1: no fallback, the image fails with MissingProof", async ({ page }) => {
  proxy.requests.length = 0
  const records = await openOn3x(page, { proofTransport: 'query' })
  await addImage(page, 'forced-query', routeSrc(records[0]!.id))
  expect(await imageSettled(page, 'forced-query')).toBe('error')
  await expect.poll(() => imageErrors(page)).toEqual([{ id: records[0]!.id, state: 'MissingProof', status: 403 }])
  expect(proxy.requests.filter((request) => request.method === 'GET').every((request) => request.proofIn === 'query')).toBe(true)
})
