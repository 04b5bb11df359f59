/**
 * A misconfigured page says what is wrong, in every engine: a route that does
 * not match the backend's, a host that is no Pixstore endpoint, or a backend
 * whose CORS refuses the page each end in their own onImageError state (with
 * the URL, never the proof), and BackendUnreachable only when nothing answered.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from '../../testing/freePort'
import { addImage, imageErrorDetails, imageErrors, imageSettled, openTabLoggingErrors, postRecords } from '../browser'
import { expect, test, type BrowserSession, type Tab } from '../engines'
import { useHarness, type ImageRecord } from '../harness'

const h = useHarness()

/** The test page in a new tab, configured for a backend on `port` (plus `extra` config), with `record` handed over. */
async function openFor(session: BrowserSession, port: number, record: ImageRecord, extra: Record<string, unknown> = {}): Promise<Tab> {
  const tab = await openTabLoggingErrors(session, `${h.site.origin}/test.html?backend=${port}`, extra)
  await postRecords(tab, [record])
  return tab
}

/** Adds the image at `src`, expects it to fail, and returns the one onImageError event and its detail. */
async function failureOf(tab: Tab, src: string) {
  await addImage(tab, 'diagnosed', src)
  expect(await imageSettled(tab, 'diagnosed'), 'the <img> fires error').toBe('error')
  await expect.poll(async () => (await imageErrors(tab)).length, { message: 'onImageError fired' }).toBe(1)
  return { event: (await imageErrors(tab))[0]!, detail: (await imageErrorDetails(tab))[0] ?? '' }
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

test('page and backend on different routes: EndpointNotFound (502) with the URL, not BackendUnreachable; the backend did answer', async ({ session }) => {
  const [record] = await h.freshRecords(['pine-forest.jpg'])
  const tab = await openFor(session, h.backend.port, record!, { defaultEndpointRoute: '/photos' })
  const { event, detail } = await failureOf(tab, `/photos/${record!.id}`)
  expect(event).toEqual({ id: record!.id, state: 'EndpointNotFound', status: 502 })
  expect(detail, 'the detail names the URL asked').toContain(`${h.backend.origin}/photos/${record!.id}`)
  expect(detail, 'never the proof').not.toContain(record!.statelessProof)
  const answered = h.backend.requests.filter((request) => request.path === `/photos/${record!.id}` && request.method === 'GET')
  expect(answered.map((request) => [request.status, request.allowOrigin]), 'the backend answered 404, readable through CORS').toEqual([[404, '*']])
})

test('a host that is no Pixstore endpoint: a site answering HTML is NotPixstore, one answering without CORS is CorsRefused', async ({ session, launcher }) => {
  const [record] = await h.freshRecords(['pine-forest.jpg'])
  const spa = await startOtherServer((res) => res.writeHead(200, { 'Content-Type': 'text/html', 'Access-Control-Allow-Origin': '*' }).end('<!doctype html><p>app</p>'))
  const plain = await startOtherServer((res) => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found'))
  try {
    const tab = await openFor(session, spa.port, record!)
    const html = await failureOf(tab, `/pixstore-image/${record!.id}`)
    expect(html.event).toEqual({ id: record!.id, state: 'NotPixstore', status: 502 })
    expect(html.detail).toContain('text/html')
    expect(spa.hits.length, 'it answered').toBeGreaterThan(0)

    // A second browser (its own worker): the two backend configurations do not meet in one worker.
    const other = await launcher.newSession()
    try {
      const otherTab = await openFor(other, plain.port, record!)
      const refused = await failureOf(otherTab, `/pixstore-image/${record!.id}`)
      expect(refused.event).toEqual({ id: record!.id, state: 'CorsRefused', status: 502 })
      expect(refused.detail).toContain(`http://127.0.0.1:${plain.port}/pixstore-image/${record!.id}`)
      expect(refused.detail, 'never the proof').not.toContain(record!.statelessProof)
      expect(plain.hits.length, 'it answered').toBeGreaterThan(0)
    } finally {
      await other.close()
    }
  } finally {
    await spa.close()
    await plain.close()
  }
})

test('nothing listening: BackendUnreachable (504)', async ({ session }) => {
  const [record] = await h.freshRecords(['pine-forest.jpg'])
  const tab = await openFor(session, await freePort(), record!)
  const { event } = await failureOf(tab, `/pixstore-image/${record!.id}`)
  expect(event).toEqual({ id: record!.id, state: 'BackendUnreachable', status: 504 })
})

test("an image longer than the page's maxImageBytes: TooLarge (502), the worker stops reading it; a smaller one shows", async ({ session }) => {
  // 348 and 2,996 bytes: a limit between them.
  const [small, large] = await h.freshRecords(['checkerboard-red-blue.png', 'ocean-waves.jpg'])
  const tab = await openFor(session, h.backend.port, small!, { maxImageBytes: 2000 })
  await postRecords(tab, [large!])
  await addImage(tab, 'small', `/pixstore-image/${small!.id}`)
  expect(await imageSettled(tab, 'small'), 'an image within the limit shows').toBe('load')
  const { event, detail } = await failureOf(tab, `/pixstore-image/${large!.id}`)
  expect(event).toEqual({ id: large!.id, state: 'TooLarge', status: 502 })
  expect(detail).toContain('maxImageBytes (2000 bytes)')
  expect(detail, 'never the proof').not.toContain(large!.statelessProof)
})
