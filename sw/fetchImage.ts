import { ImageFrameError, type ImageFormat } from '../protocol/formats'
import { decodeImageMeta, type ImageRecord } from '../protocol/record'
import { decodeWirePayload, PixstoreState, PROOF_HEADER, PROOF_PARAM, stateName, TOKEN_HEADER, TOKEN_PARAM, type RawImageMeta } from '../protocol/wire'
import { backendImageUrl } from '../protocol/workerConfig'
import { decryptImage, ImageDecryptionError } from './decryptImage'
import { ImageFailure } from './imageFailure'
import { ProofTransports, type TransportConfig } from './proofTransport'

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
 * per image. The same origin gets them as headers, out of every URL. A
 * backend that answers MissingProof to the query form (Pixstore 3.x) is asked
 * again with headers, and gets them from then on (see proofTransport.ts).
 */
export async function fetchImage(config: TransportConfig, record: ImageRecord, ownOrigin: string, transports = new ProofTransports()): Promise<FetchedImage> {
  const url = backendImageUrl(config, record.id)
  const form = transports.choose(config, ownOrigin)
  let body = await fetchPayload(url, record, form)
  if (form === 'query' && isMissingProof(body) && transports.queryRefused(config)) body = await fetchPayload(url, record, 'headers')
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

/**
 * The wire bytes the backend answered with proof and token in the query or
 * the headers. An answer that is no Pixstore payload is named for what it is:
 * a 404 (wrong route, or no Pixstore there), a 200 of another type (a site,
 * not an endpoint), another status; and no readable answer at all is
 * BackendUnreachable only when nothing answered (see whyUnreadable).
 */
async function fetchPayload(url: string, record: ImageRecord, form: 'query' | 'headers'): Promise<Uint8Array> {
  let response: Response
  try {
    const query = `?${PROOF_PARAM}=${encodeURIComponent(record.statelessProof)}&${TOKEN_PARAM}=${record.token}`
    response = await fetch(form === 'query' ? url + query : url, {
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      headers: form === 'query' ? {} : { [PROOF_HEADER]: record.statelessProof, [TOKEN_HEADER]: String(record.token) },
    })
  } catch (error) {
    throw await whyUnreadable(url, error)
  }
  if (response.status === 200 && isWireType(response.headers.get('Content-Type'))) {
    try {
      return new Uint8Array(await response.arrayBuffer())
    } catch (error) {
      throw new ImageFailure('BackendUnreachable', `the answer from ${url} broke off (${describe(error)})`)
    }
  }
  await response.body?.cancel().catch(() => {})
  if (response.status === 404) {
    throw new ImageFailure('EndpointNotFound', `no Pixstore endpoint at ${url}: the backend answered HTTP 404 (the page's defaultEndpointRoute must match the backend's, and the host and port must be the Pixstore endpoint)`)
  }
  if (response.status === 200) {
    throw new ImageFailure('NotPixstore', `${url} answered ${response.headers.get('Content-Type') ?? 'no Content-Type'} instead of a Pixstore payload (application/octet-stream): is defaultEndpointConnectHost a Pixstore endpoint?`)
  }
  throw new ImageFailure('UnexpectedResponse', `backend answered HTTP ${response.status} for ${url}`)
}

/**
 * fetch() failed without an answer the worker may read. Either nothing
 * answered (down, wrong port, DNS), or a server answered without CORS
 * headers for this origin, which the browser hides the same way. A no-cors
 * request, sent without proof, tells them apart: it gets an opaque answer
 * from any server that answers at all.
 */
async function whyUnreadable(url: string, error: unknown): Promise<ImageFailure> {
  try {
    await fetch(url, { mode: 'no-cors', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' })
  } catch {
    return new ImageFailure('BackendUnreachable', `backend unreachable at ${url} (${describe(error)})`)
  }
  return new ImageFailure(
    'CorsRefused',
    `${url} answered, but without CORS headers allowing this origin: set the backend's accessControlAllowOrigin to include it, and check that the route is Pixstore's (other routes of an app may carry no CORS headers)`,
  )
}

/** Pixstore (3.x too) answers application/octet-stream; a server that names no type gets the benefit of the doubt. */
const isWireType = (type: string | null) => type === null || type.split(';')[0]!.trim().toLowerCase() === 'application/octet-stream'

const isMissingProof = (body: Uint8Array) => body.length === 1 && body[0] === PixstoreState.MissingProof

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))
