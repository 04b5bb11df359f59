/**
 * A misconfigured page says what is wrong: a route that does not match the
 * backend's, a host that is no Pixstore endpoint, or a backend whose CORS
 * refuses the page each end in their own onImageError state (with the URL,
 * never the proof), and BackendUnreachable only when nothing answered.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect, test, type Page } from '@playwright/test'
import { freePort } from '../testing/freePort'
import { addImage, imageErrorDetails, imageErrors, imageSettled, initFrontendLoggingErrors, postRecords } from './browser'
import { useHarness, type ImageRecord } from './harness'

const h = useHarness()

/** The test page configured for a backend on `port` (plus `extra` config), with `record` handed over. */
async function openFor(page: Page, port: number, record: ImageRecord, extra: Record<string, unknown> = {}): Promise<void> {
  await page.goto(`${h.site.origin}/test.html?backend=${port}`)
  await page.waitForFunction(() => window.px !== undefined && window.pxConfig !== undefined)
  await initFrontendLoggingErrors(page, extra)
  await postRecords(page, [record])
}

/** Adds the image at `src`, expects it to fail, and returns the one onImageError event and its detail. */
async function failureOf(page: Page, src: string) {
  await addImage(page, 'diagnosed', src)
  expect(await imageSettled(page, 'diagnosed'), 'the <img> fires error').toBe('error')
  await expect.poll(async () => (await imageErrors(page)).length, { message: 'onImageError fired' }).toBe(1)
  return { event: (await imageErrors(page))[0]!, detail: (await imageErrorDetails(page))[0] ?? '' }
}

/** A web server that is not Pixstore (say, the app's own site): `answer` for every request. */
async function startOtherServer(answer: (res: http.ServerResponse) => void): Promise<{ port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = []
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`)
    answer(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}

test('page and backend on different routes: EndpointNotFound (502) with the URL, not BackendUnreachable; the backend did answer', async ({ page }) => {
  const [record] = await h.freshRecords(['pine-forest.jpg'])
  await openFor(page, h.backend.port, record!, { defaultEndpointRoute: '/photos' })
  const { event, detail } = await failureOf(page, `/photos/${record!.id}`)
  expect(event).toEqual({ id: record!.id, state: 'EndpointNotFound', status: 502 })
  expect(detail, 'the detail names the URL asked').toContain(`${h.backend.origin}/photos/${record!.id}`)
  expect(detail, 'never the proof').not.toContain(record!.statelessProof)
  const answered = h.backend.requests.filter((request) => request.path === `/photos/${record!.id}` && request.method === 'GET')
  expect(answered.map((request) => [request.status, request.allowOrigin]), 'the backend answered 404, readable through CORS').toEqual([[404, '*']])
})

test('a host that is no Pixstore endpoint: a site answering HTML is NotPixstore, one answering without CORS is CorsRefused', async ({ page, context }) => {
  const [record] = await h.freshRecords(['pine-forest.jpg'])
  const spa = await startOtherServer((res) => res.writeHead(200, { 'Content-Type': 'text/html', 'Access-Control-Allow-Origin': '*' }).end('<!doctype html><p>app</p>'))
  const plain = await startOtherServer((res) => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found'))
  try {
    await openFor(page, spa.port, record!)
    const html = await failureOf(page, `/pixstore-image/${record!.id}`)
    expect(html.event).toEqual({ id: record!.id, state: 'NotPixstore', status: 502 })
    expect(html.detail).toContain('text/html')
    expect(spa.hits.length, 'it answered').toBeGreaterThan(0)

    const other = await context.browser()!.newContext()
    try {
      const otherPage = await other.newPage()
      await openFor(otherPage, plain.port, record!)
      const refused = await failureOf(otherPage, `/pixstore-image/${record!.id}`)
      expect(refused.event).toEqual({ id: record!.id, state: 'CorsRefused', status: 502 })
      expect(refused.detail).toContain(`http://127.0.0.1:${plain.port}/pixstore-image/${record!.id}`)
      expect(plain.hits.length, 'it answered').toBeGreaterThan(0)
    } finally {
      await other.close()
    }
  } finally {
    await spa.close()
    await plain.close()
  }
})

test('nothing listening: BackendUnreachable (504)', async ({ page }) => {
  const [record] = await h.freshRecords(['pine-forest.jpg'])
  await openFor(page, await freePort(), record!)
  const { event } = await failureOf(page, `/pixstore-image/${record!.id}`)
  expect(event).toEqual({ id: record!.id, state: 'BackendUnreachable', status: 504 })
})
