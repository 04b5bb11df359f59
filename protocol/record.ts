import { base64ToBytes, bytesToBase64 } from './base64'
import { IV_LENGTH, KEY_LENGTH, TAG_LENGTH, type RawImageMeta } from './wire'

/** What the application hands to the browser for one image. Keys are standard base64. */
export interface ImageRecord {
  id: string
  token: number
  meta: { key: string; iv: string; tag: string }
  statelessProof: string
  /**
   * When the proof stops being accepted (ms since the epoch, the backend's clock), so the worker can
   * get a fresh one before fetching instead of after a refusal. Optional: Pixstore 3.x records have none.
   */
  proofExpiresAt?: number
}

/** Raw key material (as the wire carries it) → the base64 strings a record carries. */
export function encodeImageMeta({ key, iv, tag }: RawImageMeta): ImageRecord['meta'] {
  return { key: bytesToBase64(key), iv: bytesToBase64(iv), tag: bytesToBase64(tag) }
}

/** A record's base64 meta → raw key material for decryption. */
export function decodeImageMeta({ key, iv, tag }: ImageRecord['meta']): RawImageMeta {
  return { key: base64ToBytes(key), iv: base64ToBytes(iv), tag: base64ToBytes(tag) }
}

export const MAX_IMAGE_ID_LENGTH = 256

/**
 * The documented id set: an optional `dir:` prefix and a name, both of
 * `[A-Za-z0-9_-]`. No dots or slashes, so no id can name a path outside the store.
 */
const IMAGE_ID_PATTERN = /^(?:[A-Za-z0-9_-]+:)?[A-Za-z0-9_-]+$/

export function isValidImageId(id: unknown): id is string {
  return typeof id === 'string' && id.length <= MAX_IMAGE_ID_LENGTH && IMAGE_ID_PATTERN.test(id)
}

/** Proofs are opaque to clients; they only have to be safe as an HTTP header value. */
const PROOF_PATTERN = /^[\x21-\x7e]{1,512}$/

export class InvalidImageRecordError extends TypeError {
  override name = 'InvalidImageRecordError'
}

/** Checks an untrusted value (e.g. from postMessage or JSON) and returns it as a clean record. */
export function parseImageRecord(value: unknown): ImageRecord {
  const fail = (why: string): never => {
    const id = typeof (value as { id?: unknown })?.id === 'string' ? ` "${(value as { id: string }).id.slice(0, 64)}"` : ''
    throw new InvalidImageRecordError(`Invalid image record${id}: ${why}`)
  }
  if (typeof value !== 'object' || value === null) fail('not an object')
  const { id, token, meta, statelessProof, proofExpiresAt } = value as Record<string, unknown>
  if (!isValidImageId(id)) fail(`id must be 1-${MAX_IMAGE_ID_LENGTH} characters of [A-Za-z0-9_-] with an optional "dir:" prefix`)
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0) fail('token must be a non-negative safe integer')
  if (typeof statelessProof !== 'string' || !PROOF_PATTERN.test(statelessProof)) fail('statelessProof must be a non-empty printable ASCII string')
  if (proofExpiresAt !== undefined && (typeof proofExpiresAt !== 'number' || !Number.isSafeInteger(proofExpiresAt) || proofExpiresAt < 0)) {
    fail('proofExpiresAt, when given, must be a non-negative safe integer (ms since the epoch)')
  }
  if (typeof meta !== 'object' || meta === null) fail('meta must be an object with key, iv and tag')
  const { key, iv, tag } = meta as Record<string, unknown>
  const lengths = { key: KEY_LENGTH, iv: IV_LENGTH, tag: TAG_LENGTH }
  for (const [field, bytes] of Object.entries(lengths)) {
    const text = (meta as Record<string, unknown>)[field]
    if (typeof text !== 'string' || !hasDecodedLength(text, bytes)) fail(`meta.${field} must be standard base64 of ${bytes} bytes`)
  }
  const record: ImageRecord = {
    id: id as string,
    token: token as number,
    meta: { key: key as string, iv: iv as string, tag: tag as string },
    statelessProof: statelessProof as string,
  }
  if (proofExpiresAt !== undefined) record.proofExpiresAt = proofExpiresAt as number
  return record
}

function hasDecodedLength(text: string, length: number): boolean {
  try {
    return base64ToBytes(text).length === length
  } catch {
    return false
  }
}

/**
 * The query parameter that names an image's version in a page URL
 * (`{route}/{id}?v={token}`): each version has its own URL, which the browser
 * may keep in memory; the worker ignores the query when matching.
 */
export const VERSION_PARAM = 'v'
