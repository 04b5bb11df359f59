/**
 * Issue 17 in the browser: a large image reaches the `<img>` as its records
 * authenticate, so it renders in stages while its bytes still arrive; a
 * record that does not authenticate fails the `<img>` and nothing is cached.
 * The network is testing/pacingProxy.ts in front of the real backend: it
 * holds the answer at a byte count until the test releases it (no timers).
 */
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { chunkedPayloadLength, SEALED_RECORD_BYTES } from '../protocol/chunked'
import { ChunkedState } from '../protocol/wire'
import { makeJpeg } from '../testing/jpegImages'
import { startPacingProxy, type PacingProxy } from '../testing/pacingProxy'
import { cacheSnapshot, cachedImageExists, entriesFor, initFrontend, postRecords } from './browser'
import { ROUTE, startExtraBackend, startSite, type ImageRecord, type TestBackend, type TestSite } from './harness'

let backend: TestBackend
let site: TestSite
let proxy: PacingProxy
let dir: string
let progressive: ImageRecord
let progressiveLength: number
let baseline: ImageRecord

test.beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixstore-streaming-'))
  backend = await startExtraBackend()
  site = await startSite()
  proxy = await startPacingProxy({ target: backend.origin })
  site.backends.set(proxy.port, backend)
  const save = async (name: string, jpeg: Buffer) => {
    const file = path.join(dir, name)
    writeFileSync(file, jpeg)
    return backend.saveImageFromFile(file)
  }
  const progressiveJpeg = makeJpeg({ width: 1600, height: 1200, seed: 3, progressive: true, quality: 90, grain: 20 })
  progressiveLength = progressiveJpeg.length
  progressive = await save('progressive.jpg', progressiveJpeg)
  baseline = await save('baseline.jpg', makeJpeg({ width: 1600, height: 1200, seed: 4, progressive: false, quality: 90, grain: 20 }))
})

test.afterAll(async () => {
  await proxy?.close()
  await site?.close()
  await backend?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const isImage = (id: string) => (requestPath: string) => requestPath === `${ROUTE}/${id}`

async function openPage(page: Page): Promise<void> {
  await page.goto(`${site.origin}/test.html?backend=${proxy.port}`)
  await page.waitForFunction(() => window.px !== undefined && window.pxConfig !== undefined)
  await initFrontend(page)
}

/** Adds a 400x300 `<img>` for `record`; its load/error outcome lands in `window.outcome`. */
async function insertImage(page: Page, record: ImageRecord): Promise<void> {
  await page.evaluate((record) => {
    const img = document.createElement('img')
    img.id = 'big'
    img.style.cssText = 'width:400px;height:300px;display:block;background:#fff'
    ;(window as unknown as { outcome: Promise<string> }).outcome = new Promise((resolve) => {
      img.addEventListener('load', () => resolve('load'))
      img.addEventListener('error', () => resolve('error'))
    })
    img.src = window.px.imageUrl(record)
    document.getElementById('gallery')!.append(img)
  }, record)
}

const outcome = (page: Page) => page.evaluate(() => (window as unknown as { outcome: Promise<string> }).outcome)
const complete = (page: Page) => page.evaluate(() => (document.getElementById('big') as HTMLImageElement).complete)
const snapshot = (page: Page) => page.locator('#big').screenshot()

/** Waits until what the `<img>` shows differs from `before` (the decoder painted more), while the bytes are held. */
async function nextStage(page: Page, before: Buffer, what: string): Promise<Buffer> {
  let shown = before
  await expect
    .poll(async () => {
      shown = await snapshot(page)
      return shown.equals(before)
    }, { message: what, timeout: 20_000 })
    .toBe(false)
  return shown
}

test('a large progressive JPEG renders in stages while its records arrive, then completes and is cached', async ({ page }) => {
  await openPage(page)
  await postRecords(page, [progressive])
  const blank = await (async () => {
    await page.evaluate(() => {
      const box = document.createElement('div')
      box.id = 'big'
      box.style.cssText = 'width:400px;height:300px;display:block;background:#fff'
      document.getElementById('gallery')!.append(box)
    })
    const shot = await snapshot(page)
    await page.evaluate(() => document.getElementById('big')!.remove())
    return shot
  })()

  const total = 1 + chunkedPayloadLength(progressiveLength + 1)
  // Stage 1: a third of the records; stage 2: two thirds. The answer is chunked (it is far over 4 records).
  const first = 1 + Math.floor(total / 3 / SEALED_RECORD_BYTES) * SEALED_RECORD_BYTES
  const second = 1 + Math.floor((2 * total) / 3 / SEALED_RECORD_BYTES) * SEALED_RECORD_BYTES
  proxy.holdAt(first, isImage(progressive.id))
  await insertImage(page, progressive)
  await proxy.held()
  const stage1 = await nextStage(page, blank, 'the first third of the records shows something')
  expect(await complete(page), 'still loading at stage 1').toBe(false)

  proxy.holdAt(second, isImage(progressive.id))
  await proxy.held()
  const stage2 = await nextStage(page, stage1, 'two thirds show more than one third')
  expect(await complete(page), 'still loading at stage 2').toBe(false)
  expect(await cachedImageExists(page, progressive.id), 'nothing cached before the last record authenticated').toBe(false)

  proxy.release()
  expect(await outcome(page)).toBe('load')
  const final = await snapshot(page)
  expect(final.equals(stage2), 'the whole image differs from two thirds of it').toBe(false)
  expect(await page.evaluate(() => (document.getElementById('big') as HTMLImageElement).naturalWidth)).toBe(1600)
  await expect.poll(() => cachedImageExists(page, progressive.id), { message: 'cached once whole' }).toBe(true)
})

test('a record altered on the way: the <img> fires error, onImageError gets DecryptionFailed, nothing is cached', async ({ page }) => {
  site.pages.set(
    '/tamper.html',
    `<!doctype html><body><div id="gallery"></div><script type="module">
      import * as px from '/pixstore/frontend.js'
      window.px = px
      window.imageErrors = []
      await px.initPixstoreFrontend({ defaultEndpointConnectHost: '127.0.0.1', defaultEndpointConnectPort: ${proxy.port}, defaultEndpointRoute: '${ROUTE}',
        onImageError: ({ id, state, status }) => window.imageErrors.push({ id, state, status }) })
      window.pixstoreReady = true
    </script></body>`,
  )
  await page.goto(`${site.origin}/tamper.html`)
  await page.waitForFunction(() => window.pixstoreReady === true)
  await postRecords(page, [baseline])
  // A bit of record 3's ciphertext: records 0..2 pass (the top of the picture may show), nothing from 3 on.
  proxy.corruptAt(1 + 3 * SEALED_RECORD_BYTES + 100, isImage(baseline.id))
  try {
    await insertImage(page, baseline)
    expect(await outcome(page)).toBe('error')
  } finally {
    proxy.corruptAt(null)
  }
  const answered = proxy.answers.filter((answer) => answer.path === `${ROUTE}/${baseline.id}`)
  expect(answered.map((answer) => answer.firstByte), 'one chunked answer (ChunkedSuccess), altered on the way').toEqual([ChunkedState.ChunkedSuccess])
  await expect.poll(() => page.evaluate(() => window.imageErrors), { message: 'onImageError' }).toEqual([{ id: baseline.id, state: 'DecryptionFailed', status: 502 }])
  // The cache write would have followed the end of the stream: the stream failed, so it never comes.
  expect(await cachedImageExists(page, baseline.id)).toBe(false)
  expect(entriesFor(await cacheSnapshot(page), baseline.id)).toEqual([])

  // The same image through an honest network: it shows (so the failure was the altered record, and nothing stale got in the way).
  await page.evaluate(() => document.getElementById('big')!.remove())
  await insertImage(page, baseline)
  expect(await outcome(page)).toBe('load')
  await expect.poll(() => cachedImageExists(page, baseline.id)).toBe(true)
})
