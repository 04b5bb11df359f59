import { ImageFrameError, type ImageFormat } from '../protocol/formats'
import { decodeImageMeta, type ImageRecord } from '../protocol/record'
import { decodeWirePayload, PixstoreState, PROOF_HEADER, PROOF_PARAM, stateName, TOKEN_HEADER, TOKEN_PARAM, type RawImageMeta } from '../protocol/wire'
import { backendImageUrl, type BackendLocation } from '../protocol/workerConfig'
import { decryptImage, ImageDecryptionError } from './decryptImage'
import { ImageFailure } from './imageFailure'

export interface FetchedImage {
  format: ImageFormat
  image: Uint8Array<ArrayBuffer>
  /** The token of the version decrypted: the record's, or the newer one of an Updated answer. */
  token: number
  /** Set when the backend answered Updated: the new version's key material. */
  updatedMeta: RawImageMeta | null
}

/**
 * One round trip to the backend for `record`, decrypted. Every failure is an
 * ImageFailure naming its cause. `credentials: 'omit'` because the proof is
 * the only authorization; `no-store` because the worker caches plaintext itself.
 * A backend on another origin gets proof and token as query parameters: a
 * request without custom headers needs no CORS preflight, one round trip less
 * per image. The same origin gets them as headers, out of every URL.
 */
export async function fetchImage(config: BackendLocation, record: ImageRecord, ownOrigin: string): Promise<FetchedImage> {
  const url = backendImageUrl(config, record.id)
  let body: Uint8Array
  try {
    const crossOrigin = config.backendOrigin !== ownOrigin
    const query = `?${PROOF_PARAM}=${encodeURIComponent(record.statelessProof)}&${TOKEN_PARAM}=${record.token}`
    const response = await fetch(crossOrigin ? url + query : url, {
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      headers: crossOrigin ? {} : { [PROOF_HEADER]: record.statelessProof, [TOKEN_HEADER]: String(record.token) },
    })
    if (response.status !== 200) {
      await response.body?.cancel()
      throw new ImageFailure('UnexpectedResponse', `backend answered HTTP ${response.status} for ${url}`)
    }
    body = new Uint8Array(await response.arrayBuffer())
  } catch (error) {
    if (error instanceof ImageFailure) throw error
    throw new ImageFailure('BackendUnreachable', `backend unreachable at ${url} (${describe(error)})`)
  }
  try {
    const payload = decodeWirePayload(body)
    switch (payload.state) {
      case PixstoreState.Success:
        return { ...(await decryptImage(payload.ciphertext, decodeImageMeta(record.meta))), token: record.token, updatedMeta: null }
      case PixstoreState.Updated:
        return { ...(await decryptImage(payload.ciphertext, payload.meta)), token: payload.token, updatedMeta: payload.meta }
      default: {
        const state = stateName(payload.state) as Exclude<ReturnType<typeof stateName>, 'Success' | 'Updated' | undefined>
        throw new ImageFailure(state, `backend answered ${state} for image "${record.id}"`)
      }
    }
  } catch (error) {
    if (error instanceof ImageFailure) throw error
    if (error instanceof ImageDecryptionError) throw new ImageFailure('DecryptionFailed', `cannot decrypt image "${record.id}": ${error.message}`)
    if (error instanceof ImageFrameError) throw new ImageFailure('InvalidPayload', `image "${record.id}" decrypted to no known format: ${error.message}`)
    throw new ImageFailure('InvalidPayload', `backend sent no valid Pixstore payload for image "${record.id}": ${describe(error)}`)
  }
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))
