/**
 * The browser reader of chunked payloads (sw/streamDecrypt.ts) in real
 * Chromium: its WebCrypto (HKDF, AES-GCM on views into network chunks) and
 * its streams, fed by fetch bodies. The same vectors and tampering cases as
 * the Node unit tests (sw/streamDecrypt.test.ts). The modules are served as
 * they are, transpiled one by one, on http://localhost (a secure context);
 * no build or backend needed.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { expect, test } from '@playwright/test'
import ts from 'typescript'
import { makePng } from '../testing/images'
import { SEALED_RECORD_BYTES } from '../protocol/chunked'
import { CHUNKED_VECTORS, VECTOR_IV, VECTOR_KEY, vectorPlaintext } from '../protocol/chunkedVectors'
import { frameImage, imageFormatByName } from '../protocol/formats'
import { ChunkedState } from '../protocol/wire'
import { encryptChunked } from '../server/chunkedCrypto'
import { tamperCases } from '../testing/chunkedTampering'

const ROOT = path.resolve(import.meta.dirname, '..')
const ORIGIN = 'http://localhost'

interface Outcome {
  passedLength: number
  passedSha256: string
  error: { name: string; code?: string; message: string } | null
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

/** Serves the repository's protocol/ and sw/ modules as ES modules and `payloads` as binary bodies. */
async function openReaderPage(page: import('@playwright/test').Page, payloads: Uint8Array[]) {
  await page.route(`${ORIGIN}/**`, async (route) => {
    const { pathname } = new URL(route.request().url())
    if (pathname === '/') return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>streamDecrypt</title>' })
    const payload = /^\/payload\/(\d+)$/.exec(pathname)
    if (payload) return route.fulfill({ contentType: 'application/octet-stream', body: Buffer.from(payloads[Number(payload[1])]!) })
    if (/^\/(protocol|sw)\/\w+$/.test(pathname)) {
      const source = readFileSync(path.join(ROOT, `${pathname}.ts`), 'utf8')
      const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } })
      return route.fulfill({ contentType: 'text/javascript', body: outputText })
    }
    return route.fulfill({ status: 404, body: '' })
  })
  await page.goto(`${ORIGIN}/`)
}

/** Fetches payload `index` and reads its body through createDecryptStream, whole or re-chunked into odd sizes. */
function decryptInPage(page: import('@playwright/test').Page, index: number, meta: { key: string; iv: string }, rechunk: boolean): Promise<Outcome> {
  return page.evaluate(
    async ({ index, meta, rechunk, sealedRecord }) => {
      const moduleUrl = '/sw/streamDecrypt'
      const { createDecryptStream } = (await import(moduleUrl)) as typeof import('../sw/streamDecrypt')
      const bytes = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16))
      let body: ReadableStream<Uint8Array> = (await fetch(`/payload/${index}`)).body!
      if (rechunk) {
        const whole = new Uint8Array(await new Response(body).arrayBuffer())
        const sizes = [1, 7, sealedRecord, 1000, 16, 30000, 70000, 3]
        let at = 0
        let turn = 0
        body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (at >= whole.length) return controller.close()
            const size = sizes[turn++ % sizes.length]!
            controller.enqueue(whole.subarray(at, (at += size)))
          },
        })
      }
      const reader = body.pipeThrough(createDecryptStream({ key: bytes(meta.key), iv: bytes(meta.iv) })).getReader()
      const parts: Uint8Array[] = []
      let error: { name: string; code?: string; message: string } | null = null
      try {
        for (let result = await reader.read(); !result.done; result = await reader.read()) parts.push(result.value)
      } catch (caught) {
        const e = caught as Error & { reason?: string }
        error = { name: e.name, code: e.reason, message: e.message }
      }
      const passed = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
      parts.reduce((at, part) => (passed.set(part, at), at + part.length), 0)
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', passed))
      return { passedLength: passed.length, passedSha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''), error }
    },
    { index, meta, rechunk, sealedRecord: SEALED_RECORD_BYTES },
  )
}

test('Chromium decrypts every fixed vector from a fetch body, whole and re-chunked', async ({ page }) => {
  const payloads = CHUNKED_VECTORS.map((vector) => encryptChunked(VECTOR_KEY, VECTOR_IV, vectorPlaintext(vector.plaintextLength)))
  payloads.forEach((payload, i) => expect(sha256(payload)).toBe(CHUNKED_VECTORS[i]!.sha256))
  await openReaderPage(page, payloads)
  for (const [i, vector] of CHUNKED_VECTORS.entries()) {
    for (const rechunk of [false, true]) {
      const outcome = await decryptInPage(page, i, { key: hex(VECTOR_KEY), iv: hex(VECTOR_IV) }, rechunk)
      expect(outcome, `length ${vector.plaintextLength}, rechunk ${rechunk}`).toEqual({ passedLength: vector.plaintextLength, passedSha256: sha256(vectorPlaintext(vector.plaintextLength)), error: null })
    }
  }
})

test('Chromium fails closed on every tampering case: the stream errors and passes on only the authentic records before the fault', async ({ page }) => {
  const cases = tamperCases()
  await openReaderPage(
    page,
    cases.map((tamper) => tamper.payload),
  )
  for (const [i, tamper] of cases.entries()) {
    for (const rechunk of [false, true]) {
      const outcome = await decryptInPage(page, i, { key: hex(tamper.meta.key), iv: hex(tamper.meta.iv) }, rechunk)
      expect(outcome.error?.name, `${tamper.name}: ${outcome.error?.message}`).toBe('ChunkedPayloadError')
      expect(outcome.error?.code, tamper.name).toBe(tamper.code)
      expect({ length: outcome.passedLength, sha256: outcome.passedSha256 }, tamper.name).toEqual({
        length: tamper.passedBytes,
        sha256: sha256(tamper.plaintext.subarray(0, tamper.passedBytes)),
      })
    }
  }
})

test('Chromium decodes a PNG that openImageAnswer streamed out of a ChunkedSuccess answer into a Response; a bad record mid-way fails the Response', async ({ page }) => {
  const png = makePng(600_000, 5) // ten records
  const answer = Buffer.concat([Uint8Array.of(ChunkedState.ChunkedSuccess), encryptChunked(VECTOR_KEY, VECTOR_IV, frameImage(imageFormatByName('png')!, png))])
  const tampered = Buffer.from(answer)
  tampered[1 + 6 * SEALED_RECORD_BYTES + 100]! ^= 1
  await openReaderPage(page, [answer, tampered])
  const showAnswer = (index: number) =>
    page.evaluate(
      async ({ index, meta }) => {
        const moduleUrl = '/sw/chunkedAnswer'
        const { openImageAnswer } = (await import(moduleUrl)) as typeof import('../sw/chunkedAnswer')
        const bytes = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16))
        const response = await fetch(`/payload/${index}`)
        const opened = await openImageAnswer(response.body!, { key: bytes(meta.key), iv: bytes(meta.iv), tag: new Uint8Array(16) }, Number(response.headers.get('content-length')))
        if (opened.kind !== 'chunked') return { kind: opened.kind }
        try {
          const blob = await new Response(opened.image, { headers: { 'content-type': opened.format.mimeType } }).blob()
          const img = new Image()
          img.src = URL.createObjectURL(blob)
          await img.decode()
          return { kind: opened.kind, type: blob.type, size: blob.size, imageLength: opened.imageLength, width: img.naturalWidth, height: img.naturalHeight }
        } catch (error) {
          return { kind: opened.kind, failed: (error as Error).name }
        }
      },
      { index, meta: { key: hex(VECTOR_KEY), iv: hex(VECTOR_IV) } },
    )
  expect(await showAnswer(0)).toEqual({ kind: 'chunked', type: 'image/png', size: png.length, imageLength: png.length, width: 512, height: png.readUInt32BE(20) })
  // The body errors at record 6: Chromium fails the Response's read with a network TypeError (a decoded but corrupt PNG would be an EncodingError).
  expect(await showAnswer(1)).toEqual({ kind: 'chunked', failed: 'TypeError' })
})
