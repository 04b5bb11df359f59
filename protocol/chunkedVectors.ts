/**
 * Fixed test vectors of the chunked payload (protocol/chunked.ts), computed by
 * an independent implementation written from the spec (Python `cryptography`,
 * `testing/chunkedReference.py`). The Node writer and reader
 * (server/chunkedCrypto.ts) and the browser reader (sw/streamDecrypt.ts) are
 * each checked against them. Plaintexts use the real 64 KiB record size and
 * come from a seeded xorshift32 so that no two records repeat; a payload is
 * given by its SHA-256 plus its first and last 16 bytes (the last 16 are the
 * last record's tag).
 */

const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16))

export const VECTOR_KEY: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => i)
export const VECTOR_IV: Uint8Array = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i)
/** HKDF-SHA-256(VECTOR_KEY, salt VECTOR_IV, info "Pixstore chunked v1 record key"). */
export const VECTOR_RECORD_KEY: Uint8Array = hex('ee1e7fa30a4b70182bfa6ab650847c7b70dbdd24f9ad940a64e259732cb53ce3')
/** recordNonce(VECTOR_IV, 0x01020304). */
export const VECTOR_NONCE_0x01020304: Uint8Array = hex('a0a1a2a3a4a5a6a7a9aba9af')
const SEED = 0x9e3779b9

/** The vectors' plaintext of `length` bytes: xorshift32 from a fixed seed, one byte per step. */
export function vectorPlaintext(length: number, seed = SEED): Uint8Array<ArrayBuffer> {
  let x = seed >>> 0
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export interface ChunkedVector {
  plaintextLength: number
  payloadLength: number
  sha256: string
  first16: string
  last16: string
}

/** Empty, one and two bytes, one record short and exact, just over, two exact records, three records. */
export const CHUNKED_VECTORS: readonly ChunkedVector[] = [
  { plaintextLength: 0, payloadLength: 17, sha256: 'fc2d12247b5c7cd91264bc36998338ea4548b8eeea8dc54e4b8c5b3d6eb9ec46', first16: 'c3af9ca248046fad4c1cc66cc1ea2114', last16: 'af9ca248046fad4c1cc66cc1ea211454' },
  { plaintextLength: 1, payloadLength: 18, sha256: '9433f070405e399abd871af48180645dfbfe351ca3ef72e42c92c251f3d4684f', first16: 'd8b875e8335b02af97df471bf71a115c', last16: '75e8335b02af97df471bf71a115c48fb' },
  { plaintextLength: 2, payloadLength: 19, sha256: 'aae3237f029fd379e55a367bdb5006a480fa1ecb30e0c84b151cb3c10d491c1e', first16: 'd884910c373e152dbbeb31508cac8e03', last16: '0c373e152dbbeb31508cac8e0334b007' },
  { plaintextLength: 1000, payloadLength: 1017, sha256: '1841bdb9807825c7d4fbd815501e7acde017c253401a7d06573093d207c08f09', first16: 'd884a98730cb881499c8cc0f85302207', last16: 'ce49a621370b3fb3bb2a192fa9c94cfd' },
  { plaintextLength: 65535, payloadLength: 65552, sha256: '6c0b90769a3d6d667a53dc6aba8c40e917d93dd689dd90e6ccb4a94f9a25809e', first16: 'd884a98730cb881499c8cc0f85302207', last16: 'dc5c42a3c0fc8b71c1c6f3b1de32706c' },
  { plaintextLength: 65536, payloadLength: 65553, sha256: 'e0a7f8c1f7f6d2e0e21518619d37b3190af96763eadcd5ea67fcf9324f38acbb', first16: 'd884a98730cb881499c8cc0f85302207', last16: '267def9f0acff0e8110f32dc680a4849' },
  { plaintextLength: 65537, payloadLength: 65571, sha256: '83d21b8f8dea2f638937ec4a02f45434fde41fe89fdb3a38c26eb8a4de62625c', first16: 'd884a98730cb881499c8cc0f85302207', last16: '5ba39a9cceb887b68dbcdfdafb9854c4' },
  { plaintextLength: 131072, payloadLength: 131106, sha256: '4c8f14be8e8f0fe3cb46cd94f1c12c8acea7336021ef9905c8d9c27d21136ebf', first16: 'd884a98730cb881499c8cc0f85302207', last16: '125e960845c821dfb915e74cf9cde6a2' },
  { plaintextLength: 132072, payloadLength: 132123, sha256: 'b68ec6c2af047eefc5b12af6a05c203cf51df553f3cae934dd359c44049fced0', first16: 'd884a98730cb881499c8cc0f85302207', last16: '6d5cb035ecd1495c66d34a6dcf5da937' },
]
