import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ProofVerifier, proofWindow, signProof, verifyProof } from './proof'

const SECRET = 'pixstore-test-secret-0123456789abcdef'
const OLD_SECRET = 'pixstore-old-secret-0123456789abcdef0'

describe('stateless proofs', () => {
  it('matches a fixed HMAC-SHA256 vector (computed with openssl)', () => {
    // printf '1234:students:abc' | openssl dgst -sha256 -hmac "$SECRET" -binary | base64url
    assert.equal(signProof(SECRET, 'students:abc', 1234), 'qywUQLZ_JekM7DSu7ukRLMZNmA-UzPhamoFvCmnAn7w')
  })

  it('floors time into windows', () => {
    assert.equal(proofWindow(0, 20_000), 0)
    assert.equal(proofWindow(19_999, 20_000), 0)
    assert.equal(proofWindow(20_000, 20_000), 1)
  })

  it('accepts the current and the previous window, nothing older or newer', () => {
    const keys = { current: SECRET, previous: [] }
    const length = 1000
    const proof = signProof(SECRET, 'img', proofWindow(10_500, length))
    assert.ok(verifyProof(keys, 'img', proof, 10_500, length))
    assert.ok(verifyProof(keys, 'img', proof, 11_999, length), 'previous window')
    assert.equal(verifyProof(keys, 'img', proof, 12_000, length), false, 'two windows later')
    assert.equal(verifyProof(keys, 'img', proof, 9_999, length), false, 'from the future')
  })

  it('binds the proof to the id and the secret', () => {
    const keys = { current: SECRET, previous: [] }
    const proof = signProof(SECRET, 'img', 5)
    assert.equal(verifyProof(keys, 'img2', proof, 5000, 1000), false)
    assert.equal(verifyProof({ current: OLD_SECRET, previous: [] }, 'img', proof, 5000, 1000), false)
    assert.equal(verifyProof(keys, 'img', proof.slice(0, -1) + (proof.endsWith('A') ? 'B' : 'A'), 5000, 1000), false)
    assert.equal(verifyProof(keys, 'img', '', 5000, 1000), false)
    assert.equal(verifyProof(keys, 'img', proof + proof, 5000, 1000), false)
  })

  it('keeps proofs of a rotated-out secret valid while it is listed as previous', () => {
    const proof = signProof(OLD_SECRET, 'img', 5)
    assert.ok(verifyProof({ current: SECRET, previous: [OLD_SECRET] }, 'img', proof, 5000, 1000))
    assert.equal(verifyProof({ current: SECRET, previous: [] }, 'img', proof, 5000, 1000), false)
  })
})

describe('ProofVerifier', () => {
  it('gives the same answers as verifyProof while it remembers accepted proofs', () => {
    const keys = { current: SECRET, previous: [OLD_SECRET] }
    const verifier = new ProofVerifier(keys, 1000)
    const proof = signProof(SECRET, 'img', proofWindow(10_500, 1000))
    const old = signProof(OLD_SECRET, 'img', proofWindow(10_500, 1000))
    const forged = proof.slice(0, -1) + (proof.endsWith('A') ? 'B' : 'A')
    for (const now of [10_500, 10_900, 11_999, 12_000, 13_500, 9_999, 10_000]) {
      for (const [id, presented] of [['img', proof], ['img', old], ['img2', proof], ['img', forged], ['img', '']] as const) {
        assert.equal(verifier.verify(id, presented, now), verifyProof(keys, id, presented, now, 1000), `${id} ${presented.slice(0, 6)} at ${now}`)
      }
    }
  })
})

