import { PixstoreError } from './errors'
/**
 * The Pixstore binary wire format, byte-compatible with Pixstore 3.x.
 *
 *   Success:  [0][ciphertext]
 *   Updated:  [1][token u64 LE][key 32][iv 12][tag 16][ciphertext]
 *   others:   [state]            (exactly one byte)
 *
 * Chunked answers (issue 17), only to a client that asked for them (see
 * acceptsChunked); Pixstore 3.x and every client that does not ask never see them:
 *
 *   ChunkedSuccess:  [7][chunked payload]
 *   ChunkedUpdated:  [8][token u64 LE][key 32][iv 12][tag 16][chunked payload]
 *
 * The chunked payload is protocol/chunked.ts's records of the same plaintext.
 * ChunkedUpdated's tag is the whole-image tag of the new version, so the
 * record a client keeps from it also decrypts the whole-image form.
 */

export const PixstoreState = {
  Success: 0,
  Updated: 1,
  NotFound: 2,
  MissingID: 3,
  MissingProof: 4,
  InvalidProof: 5,
  InternalError: 6,
} as const

/**
 * The chunked answers' states, apart from PixstoreState: they are no failure
 * (not an `x-pixstore-state` name) and the 3.x decoder, decodeWirePayload,
 * refuses them as unknown; a client that asked reads them with decodeWireHead.
 */
export const ChunkedState = {
  ChunkedSuccess: 7,
  ChunkedUpdated: 8,
} as const

export type ChunkedStateCode = (typeof ChunkedState)[keyof typeof ChunkedState]

export type PixstoreStateName = keyof typeof PixstoreState
export type PixstoreStateCode = (typeof PixstoreState)[PixstoreStateName]

/** Request headers the backend reads: the record's statelessProof, and its token in decimal. */
export const PROOF_HEADER = 'x-pixstore-proof'
export const TOKEN_HEADER = 'x-pixstore-token'
/**
 * The same two values as query parameters: a request without custom headers
 * needs no CORS preflight. A proof is short-lived and bound to one id.
 */
export const PROOF_PARAM = 'pixstore-proof'
export const TOKEN_PARAM = 'pixstore-token'
/**
 * A client that reads chunked answers says so: the header on a same-origin
 * request, the query parameter beside the proof on a cross-origin one (no
 * preflight). The value lists the chunked format versions it reads, e.g. "1".
 */
export const CHUNKED_HEADER = 'x-pixstore-chunked'
export const CHUNKED_PARAM = 'pixstore-chunked'
/** The chunked format version protocol/chunked.ts describes. */
export const CHUNKED_VERSION = '1'
/** Longer negotiation values are ignored (answered as today), never parsed. */
const MAX_CHUNKED_VALUE_LENGTH = 64

export const KEY_LENGTH = 32
export const IV_LENGTH = 12
export const TAG_LENGTH = 16
const TOKEN_LENGTH = 8
/** Bytes in front of the ciphertext of an Updated payload. */
export const UPDATED_HEADER_LENGTH = 1 + TOKEN_LENGTH + KEY_LENGTH + IV_LENGTH + TAG_LENGTH

export interface RawImageMeta {
  key: Uint8Array
  iv: Uint8Array
  tag: Uint8Array
}

/** What comes before the ciphertext (the whole payload for one-byte states): what encodeWireHead needs. */
export type WireHead =
  | { state: typeof PixstoreState.Success }
  | { state: typeof PixstoreState.Updated; token: number; meta: RawImageMeta }
  | { state: Exclude<PixstoreStateCode, 0 | 1> }
  | { state: typeof ChunkedState.ChunkedSuccess }
  | { state: typeof ChunkedState.ChunkedUpdated; token: number; meta: RawImageMeta }

/** Success and Updated carry the ciphertext after their head (the 3.x states: what decodeWirePayload reads). */
export type WirePayload = (Extract<WireHead, { state: 0 | 1 }> & { ciphertext: Uint8Array }) | Extract<WireHead, { state: Exclude<PixstoreStateCode, 0 | 1> }>

export type WireDecodeErrorCode = 'Empty' | 'UnknownState' | 'Truncated' | 'TrailingBytes' | 'TokenOutOfRange'

/** A payload that is not valid Pixstore wire format (`reason`: how). Never a partial result. */
export class WireDecodeError extends PixstoreError {
  override name = 'WireDecodeError'
  constructor(
    readonly reason: WireDecodeErrorCode,
    message: string,
  ) {
    super(message, 'ERR_WIRE_DECODE')
  }
}

export function stateName(code: number): PixstoreStateName | undefined {
  return (Object.keys(PixstoreState) as PixstoreStateName[]).find((name) => PixstoreState[name] === code)
}

/**
 * The bytes in front of the ciphertext (the whole payload for one-byte
 * states). Servers send head and ciphertext as two writes, so a cached or
 * streamed ciphertext is never copied into a payload.
 */
export function encodeWireHead(payload: WireHead): Uint8Array {
  switch (payload.state) {
    case PixstoreState.Success:
      return Uint8Array.of(PixstoreState.Success)
    case PixstoreState.Updated:
    case ChunkedState.ChunkedUpdated: {
      const { token, meta } = payload
      if (!Number.isSafeInteger(token) || token < 0) throw new RangeError(`token must be a safe non-negative integer, got ${token}`)
      expectLength('key', meta.key, KEY_LENGTH)
      expectLength('iv', meta.iv, IV_LENGTH)
      expectLength('tag', meta.tag, TAG_LENGTH)
      const head = new Uint8Array(UPDATED_HEADER_LENGTH)
      head[0] = payload.state
      new DataView(head.buffer).setBigUint64(1, BigInt(token), true)
      let offset = 1 + TOKEN_LENGTH
      for (const part of [meta.key, meta.iv, meta.tag]) {
        head.set(part, offset)
        offset += part.length
      }
      return head
    }
    default:
      return Uint8Array.of(payload.state)
  }
}

/** The whole payload in one array (head + ciphertext). */
export function encodeWirePayload(payload: WirePayload): Uint8Array {
  const head = encodeWireHead(payload)
  if (!('ciphertext' in payload)) return head
  const out = new Uint8Array(head.length + payload.ciphertext.length)
  out.set(head, 0)
  out.set(payload.ciphertext, head.length)
  return out
}

/** Decodes a payload; ciphertext and meta are views into `bytes`, not copies. */
export function decodeWirePayload(bytes: Uint8Array): WirePayload {
  if (bytes.length === 0) throw new WireDecodeError('Empty', 'Wire payload is empty')
  const state = bytes[0]!
  switch (state) {
    case PixstoreState.Success:
      if (bytes.length === 1) throw new WireDecodeError('Truncated', 'Success payload carries no ciphertext')
      return { state, ciphertext: bytes.subarray(1) }
    case PixstoreState.Updated: {
      if (bytes.length < UPDATED_HEADER_LENGTH) {
        throw new WireDecodeError(
          'Truncated',
          `Updated payload has ${bytes.length} bytes, its header alone needs ${UPDATED_HEADER_LENGTH}`,
        )
      }
      const { token, meta } = readUpdatedHead(bytes, (from, to) => bytes.subarray(from, to))
      if (bytes.length === UPDATED_HEADER_LENGTH) throw new WireDecodeError('Truncated', 'Updated payload carries no ciphertext')
      return { state, token, meta, ciphertext: bytes.subarray(UPDATED_HEADER_LENGTH) }
    }
    case PixstoreState.NotFound:
    case PixstoreState.MissingID:
    case PixstoreState.MissingProof:
    case PixstoreState.InvalidProof:
    case PixstoreState.InternalError:
      if (bytes.length !== 1) {
        throw new WireDecodeError('TrailingBytes', `State ${stateName(state)} must be one byte, got ${bytes.length}`)
      }
      return { state }
    default:
      throw new WireDecodeError('UnknownState', `Unknown wire state byte ${state}`)
  }
}

/**
 * The head of a payload that arrives as a stream (a chunked answer's records
 * follow it): the head and its length in bytes, or null while `prefix` is too
 * short to hold it (at most UPDATED_HEADER_LENGTH bytes are ever needed).
 * Reads every state, chunked ones included; for the one-byte states the
 * caller checks that nothing follows. Throws WireDecodeError.
 */
export function decodeWireHead(prefix: Uint8Array): { head: WireHead; length: number } | null {
  if (prefix.length === 0) return null
  const state = prefix[0]!
  switch (state) {
    case PixstoreState.Updated:
    case ChunkedState.ChunkedUpdated: {
      if (prefix.length < UPDATED_HEADER_LENGTH) return null
      // Copies: a stream's buffer may be reused once the head is read.
      const { token, meta } = readUpdatedHead(prefix, (from, to) => prefix.slice(from, to))
      return { head: { state, token, meta }, length: UPDATED_HEADER_LENGTH }
    }
    case PixstoreState.Success:
    case PixstoreState.NotFound:
    case PixstoreState.MissingID:
    case PixstoreState.MissingProof:
    case PixstoreState.InvalidProof:
    case PixstoreState.InternalError:
    case ChunkedState.ChunkedSuccess:
      return { head: { state }, length: 1 }
    default:
      throw new WireDecodeError('UnknownState', `Unknown wire state byte ${state}`)
  }
}

/**
 * Whether a request asks for a chunked answer: its CHUNKED_HEADER or its
 * CHUNKED_PARAM (repeated parameters count together) lists CHUNKED_VERSION
 * among comma-separated versions. Anything else (absent, empty, only unknown
 * versions, oversized) is answered as today: a request never fails for it.
 */
export function acceptsChunked(request: { header?: string | readonly string[] | null; param?: string | readonly string[] | null }): boolean {
  return [request.header, request.param].some((value) => {
    if (value === undefined || value === null) return false
    const joined = typeof value === 'string' ? value : value.join(',')
    if (joined.length > MAX_CHUNKED_VALUE_LENGTH) return false
    return joined.split(',').some((version) => version.trim() === CHUNKED_VERSION)
  })
}

/** Token and meta of an Updated or ChunkedUpdated head (at least UPDATED_HEADER_LENGTH bytes), each field cut by `cut`. */
function readUpdatedHead(bytes: Uint8Array, cut: (from: number, to: number) => Uint8Array): { token: number; meta: RawImageMeta } {
  const bigToken = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(1, true)
  if (bigToken > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WireDecodeError('TokenOutOfRange', `Token ${bigToken} is beyond Number.MAX_SAFE_INTEGER`)
  }
  let offset = 1 + TOKEN_LENGTH
  const take = (length: number) => cut(offset, (offset += length))
  return { token: Number(bigToken), meta: { key: take(KEY_LENGTH), iv: take(IV_LENGTH), tag: take(TAG_LENGTH) } }
}

function expectLength(field: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new RangeError(`${field} must be ${length} bytes, got ${bytes.length}`)
}
