// Our endpoint against the Pixstore 3.2.1 client code path (npm `pixstore`,
// the dev dependency `pixstore-v3`): its own fetcher (proof and token as
// headers, nothing else), its own wire decoder and its own WebCrypto decrypt.
// Images large enough that our worker gets them chunked must reach a 3.x
// client in exactly the 3.x form, Success and Updated alike.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ImageRecord } from '../protocol/record'
import { CHUNKED_HEADER, CHUNKED_VERSION, ChunkedState, PROOF_HEADER, TOKEN_HEADER } from '../protocol/wire'
import { backendOnPort } from '../testing/backendOnPort'
import { makePng } from '../testing/images'
import { TEST_SECRET } from '../testing/testSupport'

interface V3Meta {
  key: string
  iv: string
  tag: string
}
interface V3Client {
  fetch: (record: ImageRecord) => Promise<Uint8Array>
  decode: (data: Uint8Array) => { state: number; token?: number; meta?: V3Meta; encrypted?: Uint8Array }
  decrypt: (encrypted: Uint8Array, meta: V3Meta) => Promise<{ format: string; buffer: Uint8Array }>
}

/** The 3.2.1 frontend's pieces, pointed at `url` the way its initPixstore does. Its decrypt reads `window.crypto`. */
async function pixstore3Client(url: string): Promise<V3Client> {
  ;(globalThis as { window?: unknown }).window ??= globalThis
  const { initPixstore } = await import('pixstore-v3/shared/pixstore-config.js')
  const { getDefaultImageFetcher } = await import('pixstore-v3/frontend/default-image-fetcher.js')
  const { decodeWirePayload } = await import('pixstore-v3/shared/wire-encoder.js')
  const { decryptImage } = await import('pixstore-v3/frontend/image-decryption.js')
  const { hostname, port } = new URL(url)
  initPixstore({ defaultEndpointConnectHost: hostname, defaultEndpointConnectPort: Number(port), defaultEndpointRoute: '/pixstore-image' })
  return { fetch: getDefaultImageFetcher(), decode: decodeWirePayload, decrypt: decryptImage }
}

describe('our endpoint and the Pixstore 3.2.1 client code path', () => {
  const env = backendOnPort({ statelessProofSecret: TEST_SECRET })
  before(env.start)
  after(env.stop)
  // Well over the 256 KiB (CHUNKED_MIN_PLAINTEXT) from which our worker gets a chunked answer.
  const large = makePng(1_200_000, 7)
  const larger = makePng(900_000, 8)

  it('a large image saved today: the 3.x client gets Success, decodes and decrypts it to the exact bytes', async () => {
    const record = (await env.backend.saveImage(large))!
    // The image is one a chunked client gets in records: the 3.x answer below is a choice, not the only form.
    const chunked = await fetch(`${env.url}/pixstore-image/${record.id}`, {
      headers: { [PROOF_HEADER]: record.statelessProof, [TOKEN_HEADER]: String(record.token), [CHUNKED_HEADER]: CHUNKED_VERSION },
    })
    assert.equal(new Uint8Array(await chunked.arrayBuffer())[0], ChunkedState.ChunkedSuccess)

    const client = await pixstore3Client(env.url)
    const payload = client.decode(await client.fetch(record))
    assert.equal(payload.state, 0, 'Success')
    const image = await client.decrypt(payload.encrypted!, record.meta)
    assert.equal(image.format, 'png')
    assert.ok(Buffer.from(image.buffer).equals(large), 'the 3.x client decrypts the original bytes')
  })

  it('an image updated since the client got its record: the 3.x client gets Updated with the new meta and decrypts the new version', async () => {
    const first = (await env.backend.saveImage(large))!
    const updated = (await env.backend.updateImage(first.id, larger))!
    const client = await pixstore3Client(env.url)
    const payload = client.decode(await client.fetch({ ...first, statelessProof: updated.statelessProof }))
    assert.equal(payload.state, 1, 'Updated')
    assert.equal(payload.token, updated.token)
    const image = await client.decrypt(payload.encrypted!, payload.meta!)
    assert.ok(Buffer.from(image.buffer).equals(larger), 'the new version, decrypted by the 3.x client')
  })
})
