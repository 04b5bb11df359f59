import assert from 'node:assert/strict'
import { createDecipheriv } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { makePng } from '../testing/images'
import { base64ToBytes } from '../protocol/base64'
import { chunkedPayloadLength } from '../protocol/chunked'
import { frameImage, imageFormatByName } from '../protocol/formats'
import type { ImageRecord } from '../protocol/record'
import { ChunkedState, decodeWireHead, PixstoreState, UPDATED_HEADER_LENGTH } from '../protocol/wire'
import { CHUNKED_MIN_PLAINTEXT } from './chunkedAnswer'
import { decryptChunked } from './chunkedCrypto'
import { backendOnPort } from '../testing/backendOnPort'
import { proofHeaders, STORE_KINDS } from '../testing/testSupport'

/** The whole-image ciphertext a 3.x client gets: decrypted with the record, the framed image. */
function openWhole(ciphertext: Uint8Array, meta: { key: Uint8Array; iv: Uint8Array; tag: Uint8Array }): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', meta.key, meta.iv)
  decipher.setAuthTag(meta.tag)
  return Buffer.concat([decipher.update(ciphertext), decipher.final()])
}

const metaOf = (record: ImageRecord) => ({ key: base64ToBytes(record.meta.key), iv: base64ToBytes(record.meta.iv), tag: base64ToBytes(record.meta.tag) })

for (const [kind, served] of [...STORE_KINDS.map((kind) => [kind, 'default'] as const), ['sqlite', 'koa'] as const]) {
  describe(`chunked answers, negotiated (${kind} store, ${served} entry)`, () => {
    const env = backendOnPort({}, { kind, served })
    // Over the threshold (and over the default ciphertext cache's entry bound, so SQLite streams it from the file).
    const big = makePng(3 * 1024 * 1024, 17)
    const small = makePng(100 * 1024, 18)
    let bigRecord: ImageRecord
    let smallRecord: ImageRecord

    before(async () => {
      await env.start()
      bigRecord = (await env.backend.saveImage(big))!
      smallRecord = (await env.backend.saveImage(small))!
    })
    after(env.stop)

    const get = async (record: ImageRecord, { header, param, token = true }: { header?: string; param?: string; token?: boolean } = {}) => {
      const headers = proofHeaders(record, token)
      if (header !== undefined) headers['x-pixstore-chunked'] = header
      const response = await fetch(`${env.url}/pixstore-image/${record.id}${param === undefined ? '' : `?pixstore-chunked=${param}`}`, { headers })
      return { response, body: new Uint8Array(await response.arrayBuffer()) }
    }

    it('a request that does not ask gets exactly the 3.x bytes, equal to customEndpointHelper, for an image saved after this change', async () => {
      const { response, body } = await get(bigRecord)
      assert.equal(body[0], PixstoreState.Success)
      assert.deepEqual(openWhole(body.subarray(1), metaOf(bigRecord)), Buffer.from(frameImage(imageFormatByName('png')!, big)))
      assert.equal(response.headers.get('content-length'), String(body.length))
      assert.deepEqual(body, new Uint8Array(await env.backend.customEndpointHelper(bigRecord.id, bigRecord.token, bigRecord.statelessProof)))
      for (const unknown of [{ header: '2' }, { param: '' }, { header: 'x'.repeat(100) + ',1' }]) {
        assert.equal((await get(bigRecord, unknown)).body[0], PixstoreState.Success, JSON.stringify(unknown).slice(0, 40))
      }
    })

    for (const [how, ask] of [['the header (same-origin)', { header: '1' }], ['the query parameter (cross-origin)', { param: '1' }]] as const) {
      it(`asked with ${how}: ChunkedSuccess, records of the same plaintext, Content-Length exact, Vary names the header`, async () => {
        const { response, body } = await get(bigRecord, ask)
        assert.equal(body[0], ChunkedState.ChunkedSuccess)
        const framed = frameImage(imageFormatByName('png')!, big)
        assert.equal(body.length, 1 + chunkedPayloadLength(framed.length))
        assert.equal(response.headers.get('content-length'), String(body.length))
        assert.match(response.headers.get('vary') ?? '', /x-pixstore-chunked/)
        assert.deepEqual(decryptChunked(body.subarray(1), metaOf(bigRecord)), Buffer.from(framed))
      })
    }

    it('an older token asked chunked: ChunkedUpdated with the version meta (its whole-image tag), records under its key', async () => {
      const { body } = await get(bigRecord, { header: '1', token: false })
      const decoded = decodeWireHead(body)!
      assert.equal(decoded.head.state, ChunkedState.ChunkedUpdated)
      assert.ok(decoded.head.state === ChunkedState.ChunkedUpdated)
      assert.equal(decoded.head.token, bigRecord.token)
      assert.deepEqual(decoded.head.meta, metaOf(bigRecord))
      assert.deepEqual(decryptChunked(body.subarray(UPDATED_HEADER_LENGTH), metaOf(bigRecord)), Buffer.from(frameImage(imageFormatByName('png')!, big)))
    })

    it(`an image of at most ${CHUNKED_MIN_PLAINTEXT} bytes gets the whole form even when asked (twice: read, then from the cache)`, async () => {
      for (let round = 0; round < 2; round++) {
        const { body } = await get(smallRecord, { header: '1' })
        assert.equal(body[0], PixstoreState.Success)
        assert.deepEqual(openWhole(body.subarray(1), metaOf(smallRecord)), Buffer.from(frameImage(imageFormatByName('png')!, small)))
      }
    })

  })
}
