/**
 * Issue 17 in every engine: a large image reaches the `<img>` as its records
 * authenticate, so it renders in stages while its bytes still arrive; a
 * record altered on the way fails the `<img>` (onImageError: DecryptionFailed)
 * and nothing is cached. The network is testing/pacingProxy.ts in front of
 * the real backend: it holds the answer at a byte count until the test
 * releases it (no timers decide anything).
 */
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chunkedPayloadLength, SEALED_RECORD_BYTES } from '../../protocol/chunked'
import { ChunkedState } from '../../protocol/wire'
import { makeJpeg } from '../../testing/jpegImages'
import { startPacingProxy, type PacingProxy } from '../../testing/pacingProxy'
import { cacheSnapshot, cachedImageExists, entriesFor, postRecords } from '../browser'
import { expect, test, type BrowserSession, type Tab } from '../engines'
import { ROUTE, useHarness, type ImageRecord } from '../harness'

const h = useHarness()
let proxy: PacingProxy
let dir: string
let progressive: ImageRecord
let progressiveLength: number
let baseline: ImageRecord

test.beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixstore-streaming-'))
  proxy = await startPacingProxy({ target: h.backend.origin })
  const save = async (name: string, jpeg: Buffer) => {
    const file = path.join(dir, name)
    writeFileSync(file, jpeg)
    return h.backend.saveImageFromFile(file)
  }
  const progressiveJpeg = makeJpeg({ width: 1600, height: 1200, seed: 3, progressive: true, quality: 90, grain: 20 })
  progressiveLength = progressiveJpeg.length
  progressive = await save('progressive.jpg', progressiveJpeg)
  baseline = await save('baseline.jpg', makeJpeg({ width: 1600, height: 1200, seed: 4, progressive: false, quality: 90, grain: 20 }))
  h.site.pages.set(
    '/streaming.html',
    `<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;background:#fff} img{width:400px;height:300px;display:block}</style></head>
<body><div id="gallery"></div><script type="module">
  import * as px from '/pixstore/frontend.js'
  window.px = px
  window.imageErrors = []
  await px.initPixstoreFrontend({ defaultEndpointConnectHost: '127.0.0.1', defaultEndpointConnectPort: ${proxy.port}, defaultEndpointRoute: '${ROUTE}',
    onImageError: ({ id, state, status }) => window.imageErrors.push({ id, state, status }) })
  window.pixstoreReady = true
</script></body></html>`,
  )
})

test.afterAll(async () => {
  await proxy?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const isImage = (id: string) => (requestPath: string) => requestPath === `${ROUTE}/${id}`

async function openPage(session: BrowserSession): Promise<Tab> {
  const tab = await session.open(`${h.site.origin}/streaming.html`)
  await tab.waitFor(() => window.pixstoreReady === true, undefined, { message: 'initPixstoreFrontend done' })
  return tab
}

/** Adds a 400x300 `<img id=big>` for `record`; its load/error outcome becomes `window.outcome`. */
async function insertImage(tab: Tab, record: ImageRecord): Promise<void> {
  await tab.evaluate((record) => {
    document.getElementById('big')?.remove()
    const img = document.createElement('img')
    img.id = 'big'
    ;(window as unknown as { outcome: Promise<string> }).outcome = new Promise((resolve) => {
      img.addEventListener('load', () => resolve('load'))
      img.addEventListener('error', () => resolve('error'))
    })
    img.src = window.px.imageUrl(record)
    document.getElementById('gallery')!.append(img)
  }, record)
}

const outcome = (tab: Tab) => tab.evaluate(() => (window as unknown as { outcome: Promise<string> }).outcome)
const complete = (tab: Tab) => tab.evaluate(() => (document.getElementById('big') as HTMLImageElement).complete)

/** Waits until the screen differs from `before` (the decoder painted more) while the bytes are held; the event is the paint, asked for until it happened. */
async function nextStage(tab: Tab, before: Buffer, what: string): Promise<Buffer> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const shown = await tab.screenshot()
    if (!shown.equals(before)) return shown
    if (Date.now() > deadline) throw new Error(`the screen never changed: ${what}`)
    await tab.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(null))))
  }
}

test('a large progressive JPEG renders in stages while its records arrive, then completes and is cached', async ({ session }) => {
  const tab = await openPage(session)
  await postRecords(tab, [progressive])
  const blank = await tab.screenshot()

  const total = 1 + chunkedPayloadLength(progressiveLength + 1)
  // Stage 1: a third of the records; stage 2: two thirds (the answer is chunked: it is far over CHUNKED_MIN_PLAINTEXT).
  const first = 1 + Math.floor(total / 3 / SEALED_RECORD_BYTES) * SEALED_RECORD_BYTES
  const second = 1 + Math.floor((2 * total) / 3 / SEALED_RECORD_BYTES) * SEALED_RECORD_BYTES
  proxy.holdAt(first, isImage(progressive.id))
  await insertImage(tab, progressive)
  await proxy.held()
  const stage1 = await nextStage(tab, blank, 'the first third of the records shows something')
  expect(await complete(tab), 'still loading at stage 1').toBe(false)

  // Two thirds: still loading and not cached. (Whether the screen changes now is the engine's choice: WebKit may
  // defer a repaint until more data comes, so the second visible stage asserted is the whole image.)
  proxy.holdAt(second, isImage(progressive.id))
  await proxy.held()
  expect(await complete(tab), 'still loading at two thirds').toBe(false)
  expect(await cachedImageExists(tab, progressive.id), 'nothing cached before the last record authenticated').toBe(false)

  proxy.release()
  expect(await outcome(tab)).toBe('load')
  expect(await tab.evaluate(() => (document.getElementById('big') as HTMLImageElement).naturalWidth)).toBe(1600)
  const final = await nextStage(tab, stage1, 'the whole image differs from the first stage')
  expect(final.equals(stage1)).toBe(false)
  await tab.waitFor((id) => window.px.cachedImageExists(id), progressive.id, { message: 'cached once whole', timeout: 20_000 })
  const answered = proxy.answers.filter((answer) => answer.path === `${ROUTE}/${progressive.id}`)
  expect(answered.map((answer) => answer.firstByte), 'one chunked answer').toEqual([ChunkedState.ChunkedSuccess])
})

test('a record altered on the way: the <img> fires error, onImageError gets DecryptionFailed, nothing is cached', async ({ session }) => {
  const tab = await openPage(session)
  await postRecords(tab, [baseline])
  // A bit of record 3's ciphertext: records 0..2 pass (the top of the picture may show), nothing from 3 on.
  proxy.corruptAt(1 + 3 * SEALED_RECORD_BYTES + 100, isImage(baseline.id))
  try {
    await insertImage(tab, baseline)
    expect(await outcome(tab)).toBe('error')
  } finally {
    proxy.corruptAt(null)
  }
  const answered = proxy.answers.filter((answer) => answer.path === `${ROUTE}/${baseline.id}`)
  expect(answered.map((answer) => answer.firstByte), 'one chunked answer (ChunkedSuccess), altered on the way').toEqual([ChunkedState.ChunkedSuccess])
  await tab.waitFor(() => window.imageErrors.length > 0, undefined, { message: 'onImageError' })
  expect(await tab.evaluate(() => window.imageErrors)).toEqual([{ id: baseline.id, state: 'DecryptionFailed', status: 502 }])
  // The cache write ends with the stream: the stream failed, so Cache Storage never committed the entry.
  expect(await cachedImageExists(tab, baseline.id)).toBe(false)
  expect(entriesFor(await cacheSnapshot(tab), baseline.id)).toEqual([])

  // The same image through an honest network: it shows (the failure was the altered record, and nothing stale got in the way).
  await insertImage(tab, baseline)
  expect(await outcome(tab)).toBe('load')
  await tab.waitFor((id) => window.px.cachedImageExists(id), baseline.id, { message: 'cached once whole', timeout: 20_000 })
})
