/**
 * Issue 17's "Done means" in the browser, in every engine: each way a chunked
 * answer can be tampered with on the way (truncated, reordered, duplicated, a
 * record from another image or another version, an altered tag, a wrong last
 * mark, bytes after the last record) fails the `<img>`: it fires `error`,
 * onImageError gets DecryptionFailed (502), Cache Storage keeps nothing, and
 * the same image through an honest network loads afterwards.
 *
 * The attacker is testing/pacingProxy.ts's rewriteBody between the browser
 * and the real backend: it reads the endpoint's chunked answer and sends a
 * well-formed HTTP answer (its own Content-Length) with a payload built from
 * the real records, cut by the format's own framing (payloadRecords), never by
 * hand-written offsets. Each case saves its own copy of the image (own id and
 * key), so nothing one case caches meets another. One browser session and
 * one page serve every case of the file.
 */
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ChunkedPayloadError, chunkedPlaintextLength, chunkedRecordCount, DELIMITER_LAST, DELIMITER_MORE, RECORD_OVERHEAD } from '../../protocol/chunked'
import { decodeImageMeta } from '../../protocol/record'
import { CHUNKED_PARAM, CHUNKED_VERSION, ChunkedState, decodeWireHead, PROOF_PARAM, TAG_LENGTH, TOKEN_PARAM, type RawImageMeta } from '../../protocol/wire'
import { CHUNKED_MIN_PLAINTEXT } from '../../server/chunkedAnswer'
import { flipBit, payloadRecords, recordPlaintexts, sealRecordAs } from '../../testing/chunkedTampering'
import { makeJpeg } from '../../testing/jpegImages'
import { startPacingProxy, type PacingProxy } from '../../testing/pacingProxy'
import { cacheSnapshot, cachedImageExists, entriesFor, postRecords } from '../browser'
import { expect, test, type BrowserSession, type Tab } from '../engines'
import { appPage, ROUTE, useHarness, type ImageRecord } from '../harness'

const h = useHarness()
let proxy: PacingProxy
let dir: string
let session: BrowserSession
let tab: Tab
/** The picture every case saves under a new id (over CHUNKED_MIN_PLAINTEXT: the endpoint answers it chunked). */
let imageFile: string
/** The same picture padded after its end so its last record is full (the plaintext ends on a record boundary). */
let fullLastRecordFile: string
/** Another image's chunked payload, cut into records. */
let otherImageRecords: Uint8Array[]
const WIDTH = 1200

test.beforeAll(async ({ launcher }) => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixstore-tampering-'))
  proxy = await startPacingProxy({ target: h.backend.origin })
  const jpeg = makeJpeg({ width: WIDTH, height: 900, seed: 5, progressive: false, quality: 90, grain: 20 })
  // The stored plaintext is the format byte and the image: over the threshold, the endpoint answers chunked.
  expect(jpeg.length + 1, 'the image is large enough for a chunked answer').toBeGreaterThan(CHUNKED_MIN_PLAINTEXT)
  imageFile = path.join(dir, 'image.jpg')
  writeFileSync(imageFile, jpeg)
  // The smallest plaintext length, from the image's upward, at which one more byte would start a new record: its last record is full.
  let plaintextLength = jpeg.length + 1
  while (chunkedRecordCount(plaintextLength + 1) === chunkedRecordCount(plaintextLength)) plaintextLength++
  fullLastRecordFile = path.join(dir, 'full-last-record.jpg')
  // Bytes after a JPEG's end-of-image marker are ignored by every decoder.
  writeFileSync(fullLastRecordFile, Buffer.concat([jpeg, Buffer.alloc(plaintextLength - 1 - jpeg.length)]))
  const otherFile = path.join(dir, 'other.jpg')
  writeFileSync(otherFile, makeJpeg({ width: WIDTH, height: 900, seed: 6, progressive: false, quality: 90, grain: 20 }))
  otherImageRecords = payloadRecords(await chunkedPayloadOf(await h.backend.saveImageFromFile(otherFile)))

  // The app's page, its endpoint behind the proxy; onImageError logs to window.imageErrors.
  h.site.pages.set('/tampering.html', appPage(proxy.port, '<div id="gallery"></div>', 'await px.initPixstoreFrontend({ ...config, onImageError })\n    window.pixstoreReady = true'))
  session = await launcher.newSession()
  tab = await session.open(`${h.site.origin}/tampering.html`)
  await tab.waitFor(() => window.pixstoreReady === true, undefined, { message: 'initPixstoreFrontend done' })
})

test.afterEach(async ({ launcher }, testInfo) => {
  if (testInfo.status === testInfo.expectedStatus || !tab) return
  const body = await tab.screenshot().catch(() => null)
  if (body) await testInfo.attach(`the page (${launcher.engine})`, { body, contentType: 'image/png' })
})

test.afterAll(async () => {
  await session?.close()
  await proxy?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** The chunked payload (head removed) the endpoint answers for `record`, asked directly as a chunked-capable worker asks. */
async function chunkedPayloadOf(record: ImageRecord): Promise<Uint8Array> {
  const query = new URLSearchParams({ [PROOF_PARAM]: record.statelessProof, [TOKEN_PARAM]: String(record.token), [CHUNKED_PARAM]: CHUNKED_VERSION })
  const response = await fetch(`${h.backend.origin}${ROUTE}/${record.id}?${query}`)
  expect(response.status).toBe(200)
  const body = new Uint8Array(await response.arrayBuffer())
  return splitAnswer(body).payload
}

/** A chunked answer's head and payload; throws for any other answer (the rewrite then cuts it off, and the test says why). */
function splitAnswer(body: Uint8Array): { head: Uint8Array; payload: Uint8Array } {
  const decoded = decodeWireHead(body)
  if (!decoded || decoded.head.state !== ChunkedState.ChunkedSuccess) throw new Error(`not a ChunkedSuccess answer: state ${decoded?.head.state ?? 'none'}`)
  return { head: body.subarray(0, decoded.length), payload: body.subarray(decoded.length) }
}

/** What a case knows about the image's answer: its records and, to re-seal one, the meta and each record's plaintext. */
interface RealAnswer {
  records: Uint8Array[]
  meta: RawImageMeta
  plaintexts(): Promise<Uint8Array[]>
}

/** Shows `record` in a new `<img>` (the only one on the page) and resolves with its load or error event. */
function showOnce(record: ImageRecord): Promise<{ outcome: string; naturalWidth: number }> {
  return tab.evaluate(
    (record) =>
      new Promise<{ outcome: string; naturalWidth: number }>((resolve) => {
        const img = document.createElement('img')
        img.addEventListener('load', () => resolve({ outcome: 'load', naturalWidth: img.naturalWidth }))
        img.addEventListener('error', () => resolve({ outcome: 'error', naturalWidth: img.naturalWidth }))
        img.src = window.px.imageUrl(record)
        document.getElementById('gallery')!.replaceChildren(img)
      }),
    record,
  )
}

/**
 * Saves a fresh copy of the image (or takes `record`), serves it once with
 * the payload `tamper` builds from the real answer, and checks that it failed
 * closed; then serves it honestly and checks that it shows and is cached.
 */
async function expectFailsClosed(tamper: (answer: RealAnswer) => Uint8Array[] | Promise<Uint8Array[]>, options: { record?: ImageRecord; file?: string } = {}): Promise<void> {
  const record = options.record ?? (await h.backend.saveImageFromFile(options.file ?? imageFile))
  const imagePath = `${ROUTE}/${record.id}`
  const meta = decodeImageMeta(record.meta)
  await postRecords(tab, [record])
  proxy.rewriteBody(
    async (body) => {
      const { head, payload } = splitAnswer(body)
      const records = payloadRecords(payload)
      if (records.length < 4) throw new Error(`${records.length} records: a case needs two middle records and a last`)
      const parts = await tamper({ records, meta, plaintexts: () => recordPlaintexts(payload, meta) })
      return Buffer.concat([head, ...parts])
    },
    (requestPath) => requestPath === imagePath,
  )
  let shown: { outcome: string }
  try {
    shown = await showOnce(record)
  } finally {
    proxy.rewriteBody(null)
  }
  // The tampered answer went out once, and what went through was a chunked answer (not the whole form).
  expect(proxy.answers.filter((answer) => answer.path === imagePath).map(({ path, firstByte, rewritten }) => ({ path, firstByte, rewritten }))).toEqual([{ path: imagePath, firstByte: ChunkedState.ChunkedSuccess, rewritten: true }])
  expect(shown.outcome, 'the <img> fires error').toBe('error')
  await tab.waitFor((id) => window.imageErrors.some((error) => error.id === id), record.id, { message: 'onImageError for the image' })
  expect(await tab.evaluate((id) => window.imageErrors.filter((error) => error.id === id), record.id)).toEqual([{ id: record.id, state: 'DecryptionFailed', status: 502 }])
  expect(await cachedImageExists(tab, record.id), 'nothing cached').toBe(false)
  expect(entriesFor(await cacheSnapshot(tab), record.id), 'no Cache Storage entry').toEqual([])

  // The same image through an honest network: it shows whole and is cached (nothing stale got in the way).
  const honest = await showOnce(record)
  expect(honest).toEqual({ outcome: 'load', naturalWidth: WIDTH })
  expect(proxy.answers.filter((answer) => answer.path === imagePath).map(({ path, firstByte, rewritten }) => ({ path, firstByte, rewritten })).at(-1), 'the honest answer was chunked too').toEqual({ path: imagePath, firstByte: ChunkedState.ChunkedSuccess })
  await tab.waitFor((id) => window.px.cachedImageExists(id), record.id, { message: 'cached once whole', timeout: 20_000 })
}

/** A middle record: records MIDDLE and MIDDLE + 1 are neither the first nor the last. */
const MIDDLE = 1

/** `records` with record `index` replaced. */
const replaced = (records: Uint8Array[], index: number, record: Uint8Array) => records.map((old, i) => (i === index ? record : old))

test('truncated in the middle of a record (an HTTP answer complete in itself)', async () => {
  await expectFailsClosed(({ records }) => [...records.slice(0, MIDDLE + 1), records[MIDDLE + 1]!.subarray(0, records[MIDDLE + 1]!.length >> 1)])
})

test('truncated a few bytes into a record (a length no payload has)', async () => {
  await expectFailsClosed(({ records }) => {
    const parts = [...records.slice(0, MIDDLE + 1), records[MIDDLE + 1]!.subarray(0, RECORD_OVERHEAD - 1)]
    // The worker can tell from the Content-Length alone: no record is this short.
    expect(() => chunkedPlaintextLength(parts.reduce((sum, part) => sum + part.length, 0))).toThrow(ChunkedPayloadError)
    return parts
  })
})

test('truncated exactly at a record boundary: the payload ends after a record not marked last', async () => {
  await expectFailsClosed(({ records }) => records.slice(0, -1))
})

test('reordered: two middle records swapped', async () => {
  await expectFailsClosed(({ records }) => [...records.slice(0, MIDDLE), records[MIDDLE + 1]!, records[MIDDLE]!, ...records.slice(MIDDLE + 2)])
})

test('reordered: the first two records swapped (the worker has not answered the <img> yet)', async () => {
  await expectFailsClosed(({ records }) => [records[1]!, records[0]!, ...records.slice(2)])
})

test('duplicated: a middle record repeated', async () => {
  await expectFailsClosed(({ records }) => [...records.slice(0, MIDDLE + 1), records[MIDDLE]!, ...records.slice(MIDDLE + 1)])
})

test('swapped in from another image: its record at the same index', async () => {
  await expectFailsClosed(({ records }) => replaced(records, MIDDLE, otherImageRecords[MIDDLE]!))
})

test('swapped in from another version of the same image: the old version\'s record at the same index', async () => {
  const old = await h.backend.saveImageFromFile(imageFile)
  const oldRecords = payloadRecords(await chunkedPayloadOf(old))
  const current = await h.backend.updateImageFromFile(old.id, imageFile)
  expect(current.token, 'a new version').not.toBe(old.token)
  await expectFailsClosed(({ records }) => replaced(records, MIDDLE, oldRecords[MIDDLE]!), { record: current })
})

test('an altered tag (one bit of a middle record\'s tag)', async () => {
  await expectFailsClosed(({ records }) => replaced(records, MIDDLE, flipBit(records[MIDDLE]!, records[MIDDLE]!.length - TAG_LENGTH)))
})

test('a wrong last mark: the last record re-sealed as not last (0x01)', async () => {
  await expectFailsClosed(async ({ records, meta, plaintexts }) => {
    const last = records.length - 1
    return replaced(records, last, sealRecordAs(meta, last, (await plaintexts())[last]!, DELIMITER_MORE))
  })
})

test('a wrong last mark: a middle record re-sealed as the last (0x02)', async () => {
  await expectFailsClosed(async ({ records, meta, plaintexts }) => replaced(records, MIDDLE, sealRecordAs(meta, MIDDLE, (await plaintexts())[MIDDLE]!, DELIMITER_LAST)))
})

test('trailing bytes after a short last record', async () => {
  await expectFailsClosed(({ records }) => [...records, Uint8Array.of(0)])
})

test('trailing bytes after a full last record', async () => {
  await expectFailsClosed(
    ({ records }) => {
      // The last record is as long as the one before it: full.
      expect(records.at(-1)!.length).toBe(records.at(-2)!.length)
      // As many bytes as a one-byte record: the Content-Length alone does not give them away, the reader must.
      const parts = [...records, new Uint8Array(RECORD_OVERHEAD + 1)]
      expect(() => chunkedPlaintextLength(parts.reduce((sum, part) => sum + part.length, 0))).not.toThrow()
      return parts
    },
    { file: fullLastRecordFile },
  )
})
