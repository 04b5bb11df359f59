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
  const presented = Buffer.from(proof)
  const window = proofWindow(nowMs, windowLengthMs)
  let valid = false
  for (const secret of [keys.current, ...keys.previous]) {
    for (const w of [window, window - 1]) {
      const expected = Buffer.from(signProof(secret, id, w))
      // Check every candidate, so timing does not tell which secret or window matched.
      if (expected.length === presented.length && timingSafeEqual(expected, presented)) valid = true
    }
  }
  return valid
}
