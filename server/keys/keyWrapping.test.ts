import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  decodeObjectWrapped,
  encodeObjectWrapped,
  isRawKey,
  KEK_WRAPPED_LENGTH,
  keyEncryptionKeyId,
  parseKeyEncryptionKey,
  unwrapKeyWith,
  wrapKeyWith,
  wrappingKekId,
} from './keyWrapping'

const hex = (text: string) => Buffer.from(text, 'hex')
const KEK = Buffer.from(Array.from({ length: 32 }, (_, i) => i))
const KEY = Buffer.alloc(32, 0xa5)
const NONCE = Buffer.from(Array.from({ length: 12 }, (_, i) => 100 + i))
// Computed independently with Python's `cryptography` (AESGCM) and hmac:
//   kid = HMAC-SHA256(kek, "pixstore key encryption key id")[:8]
//   wrapped = 0x01 || kid || nonce || AESGCM(kek).encrypt(nonce, key, 0x01 || kid || b"album:x1")
const KEK_ID = 'd28ebd03332ab2fe'
const WRAPPED = '01d28ebd03332ab2fe6465666768696a6b6c6d6e6fedbe7bc3dc4cf33b9bc7fa4d7fc0cf58e767a3af2ec956d7027409ed5e0600ede689d85a072c9e6693e8c178e74dade9'

describe('key wrapping', () => {
  it('matches the fixed test vector (KEK id, layout, AES-256-GCM with the id bound in)', () => {
    assert.equal(keyEncryptionKeyId(KEK).toString('hex'), KEK_ID)
    const wrapped = wrapKeyWith(KEK, KEY, 'album:x1', NONCE)
    assert.equal(wrapped.toString('hex'), WRAPPED)
    assert.equal(wrapped.length, KEK_WRAPPED_LENGTH)
    assert.deepEqual(unwrapKeyWith(KEK, hex(WRAPPED), 'album:x1'), KEY)
    assert.equal(wrappingKekId(wrapped)!.toString('hex'), KEK_ID)
  })

  it('does not unwrap for another id, under another KEK, or altered in any byte', () => {
    const wrapped = hex(WRAPPED)
    assert.throws(() => unwrapKeyWith(KEK, wrapped, 'album:x2'), /another image or was altered/)
    assert.throws(() => unwrapKeyWith(Buffer.alloc(32, 1), wrapped, 'album:x1'), /another key encryption key/)
    for (let at = 0; at < wrapped.length; at++) {
      const altered = Buffer.from(wrapped)
      altered[at]! ^= 0x01
      assert.throws(() => unwrapKeyWith(KEK, altered, 'album:x1'), /./, `byte ${at}`)
    }
  })

  it('uses a fresh nonce per wrap, and wrapped keys are never taken for raw ones', () => {
    const a = wrapKeyWith(KEK, KEY, 'x')
    const b = wrapKeyWith(KEK, KEY, 'x')
    assert.notDeepEqual(a, b)
    assert.equal(isRawKey(KEY), true)
    assert.equal(isRawKey(a), false)
    assert.equal(wrappingKekId(KEY), null)
    const fromObject = encodeObjectWrapped(Buffer.alloc(31 + 1, 7))
    assert.equal(isRawKey(fromObject), false)
    assert.equal(wrappingKekId(fromObject), null)
    assert.deepEqual(decodeObjectWrapped(fromObject), Buffer.alloc(32, 7))
    assert.equal(decodeObjectWrapped(a), null)
    assert.throws(() => encodeObjectWrapped(Buffer.alloc(31)), /wrapKey must resolve to 32 to 1023 bytes/)
    assert.throws(() => encodeObjectWrapped(Buffer.alloc(1024)), /wrapKey must resolve/)
  })

  it('reads a KEK as 64 hex digits or base64 of 32 bytes, nothing else', () => {
    assert.deepEqual(parseKeyEncryptionKey(KEK.toString('hex')), KEK)
    assert.deepEqual(parseKeyEncryptionKey(KEK.toString('hex').toUpperCase()), KEK)
    assert.deepEqual(parseKeyEncryptionKey(KEK.toString('base64')), KEK)
    assert.deepEqual(parseKeyEncryptionKey(Buffer.alloc(32, 0xff).toString('base64url')), Buffer.alloc(32, 0xff))
    for (const wrong of [undefined, 5, '', 'short', KEK.toString('hex').slice(2), Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), `${KEK.toString('hex')}00`]) {
      assert.equal(parseKeyEncryptionKey(wrong), null, String(wrong))
    }
  })
})
