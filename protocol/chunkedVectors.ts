/**
 * Fixed test vectors of the chunked payload (protocol/chunked.ts), computed by
 * an independent implementation written from the spec (Python `cryptography`,
 * `testing/chunkedReference.py`). The Node writer and reader
 * (server/chunkedCrypto.ts) and the browser reader (sw/streamDecrypt.ts) are
 * each checked against them. Plaintexts use the real 16 KiB record size and
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
  { plaintextLength: 16383, payloadLength: 16400, sha256: 'aaff2657968518afebab7f67af12ac9a99cd24e689cf26b3adb19925e479f74d', first16: 'd884a98730cb881499c8cc0f85302207', last16: '4402e03b73378fb4eac9b561d4cecc7f' },
  { plaintextLength: 16384, payloadLength: 16401, sha256: '4008a72d65e856a056462a0742757d7c0afb5223becf4b35d62ffd51d9744392', first16: 'd884a98730cb881499c8cc0f85302207', last16: '57bf3d5abcaaee0b9096b10688628e4c' },
  { plaintextLength: 16385, payloadLength: 16419, sha256: 'f1aee31e4f36ecae9d1a7a2f34619102c3423af2cfbaa793f324aad7056fe97e', first16: 'd884a98730cb881499c8cc0f85302207', last16: 'c3de541bb1509e82cc87fad6c3f543f8' },
  { plaintextLength: 32768, payloadLength: 32802, sha256: 'fd605e112625c4ce323748a7d7ea46f80167f054f2f38e7a35a26bded4625bb3', first16: 'd884a98730cb881499c8cc0f85302207', last16: '3040c34b55d4f6b46fa7c6e41017aa1b' },
  { plaintextLength: 33768, payloadLength: 33819, sha256: '64172f8dc2005c2e585deb040f0691de40561d46ba3f4bf6c04b3e6f716bdf24', first16: 'd884a98730cb881499c8cc0f85302207', last16: '719f2f5521fbc8ef0db81c719722d6ba' },
]
