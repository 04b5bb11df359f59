"""An independent implementation of the chunked payload (protocol/chunked.ts), written
from its spec with Python `cryptography` (OpenSSL's AES-GCM, its own HKDF), to compute
the fixed vectors of protocol/chunkedVectors.ts. Run: python3 testing/chunkedReference.py
"""
import hashlib, json
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes

RS = 16384
INFO = b"Pixstore chunked v1 record key"

def plaintext(length, seed):
    # xorshift32, one byte per step: the same generator as vectorPlaintext in chunkedVectors.ts
    x = seed & 0xFFFFFFFF
    out = bytearray(length)
    for i in range(length):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)

def record_key(key, iv):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=iv, info=INFO).derive(key)

def nonce(iv, i):
    return (int.from_bytes(iv, "big") ^ i).to_bytes(12, "big")

def encrypt(key, iv, p):
    rk = AESGCM(record_key(key, iv))
    n = max(1, -(-len(p) // RS))
    out = b""
    for i in range(n):
        piece = p[i * RS:(i + 1) * RS]
        out += rk.encrypt(nonce(iv, i), piece + (b"\x02" if i == n - 1 else b"\x01"), None)
    return out

KEY = bytes(range(32))
IV = bytes(0xA0 + i for i in range(12))
print("recordKey", record_key(KEY, IV).hex())
print("nonce 0x01020304", nonce(IV, 0x01020304).hex())
for length in [0, 1, 2, 1000, RS - 1, RS, RS + 1, 2 * RS, 2 * RS + 1000]:
    c = encrypt(KEY, IV, plaintext(length, 0x9E3779B9))
    print(json.dumps({"plaintextLength": length, "payloadLength": len(c), "sha256": hashlib.sha256(c).hexdigest(), "first16": c[:16].hex(), "last16": c[-16:].hex()}))
