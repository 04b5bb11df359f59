import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Stateless proofs: HMAC-SHA256(secret, "<window>:<id>") in base64url, where
 * window = floor(now / windowLength). Nothing is stored, so any instance that
 * shares the secret validates them, and they survive restarts.
 * The window comes first: it is all digits, so the message is unambiguous for any id.
 */

export function proofWindow(nowMs: number, windowLengthMs: number): number {
  return Math.floor(nowMs / windowLengthMs)
}

/** When a proof signed in `window` stops being accepted: the end of the window after it (ms since the epoch). */
export function proofExpiry(window: number, windowLengthMs: number): number {
  return (window + 2) * windowLengthMs
}

export function signProof(secret: string, id: string, window: number): string {
  return createHmac('sha256', secret).update(`${window}:${id}`).digest('base64url')
}

export interface ProofKeys {
  /** Signs new proofs and validates. */
  current: string
  /** Still validate (secret rotation). */
  previous: readonly string[]
}

/**
 * True when `proof` was signed for `id` in the current or the previous window,
 * with the current or a previous secret. Compares in constant time.
 */
export function verifyProof(keys: ProofKeys, id: string, proof: string, nowMs: number, windowLengthMs: number): boolean {
  return signedWindow(keys, id, proof, proofWindow(nowMs, windowLengthMs)) !== null
}

/** The window (`window` or the one before) `proof` was signed in for `id`, or null when it is not valid now. */
function signedWindow(keys: ProofKeys, id: string, proof: string, window: number): number | null {
  const presented = Buffer.from(proof)
  let matched: number | null = null
  for (const secret of [keys.current, ...keys.previous]) {
    for (const w of [window, window - 1]) {
      const expected = Buffer.from(signProof(secret, id, w))
      // Check every candidate, so timing does not tell which secret or window matched.
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) matched = w
    }
  }
  return matched
}

/** Proofs remembered at most; the memory is dropped whole when full (a bound, not an eviction policy). */
const MAX_REMEMBERED = 10_000

/**
 * verifyProof with a memory of the proofs it accepted, until their window
 * ends. Every view of an image presents the same proof again, and a profile
 * of the endpoint showed the HMACs per request; a remembered proof costs a
 * map lookup. Only valid proofs are remembered, so forged ones cannot fill it.
 */
export class ProofVerifier {
  readonly #keys: ProofKeys
  readonly #windowLengthMs: number
  /** `${id}\n${proof}` -> the window it was signed in. */
  readonly #accepted = new Map<string, number>()

  constructor(keys: ProofKeys, windowLengthMs: number) {
    this.#keys = keys
    this.#windowLengthMs = windowLengthMs
  }

  verify(id: string, proof: string, nowMs: number): boolean {
    const window = proofWindow(nowMs, this.#windowLengthMs)
    const key = `${id}\n${proof}`
    const signedIn = this.#accepted.get(key)
    if (signedIn === window || signedIn === window - 1) return true
    const matched = signedWindow(this.#keys, id, proof, window)
    if (matched === null) return false
    if (this.#accepted.size >= MAX_REMEMBERED) this.#accepted.clear()
    this.#accepted.set(key, matched)
    return true
  }
}
