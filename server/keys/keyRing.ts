import { PixstoreError } from '../errors'
import {
  decodeObjectWrapped,
  encodeObjectWrapped,
  isRawKey,
  keyEncryptionKeyId,
  parseKeyEncryptionKey,
  RAW_KEY_LENGTH,
  unwrapKeyWith,
  wrapKeyWith,
  wrappingKekId,
  type KeyEncryptionKey,
} from './keyWrapping'

/** How a KEK may be configured: 32 bytes as base64 or hex, or an object (a KMS or HSM client). */
export type KeyEncryptionKeyOption = string | KeyEncryptionKey

type Kek = { kind: 'local'; key: Buffer; id: Buffer } | { kind: 'object'; object: KeyEncryptionKey }

/** A stored key opened: the image key, and whether it is already wrapped by the current KEK (rekey leaves those alone). */
export interface OpenedKey {
  key: Buffer
  current: boolean
}

/**
 * The configured KEKs, current first: wraps new keys under the current one and
 * unwraps with whichever one wrapped a stored key, so records stay valid across
 * a rotation. Without a KEK, keys are stored raw and only raw keys open.
 */
export class KeyRing {
  readonly #current: Kek | null
  readonly #previous: Kek[]

  constructor(current: KeyEncryptionKeyOption | undefined, previous: readonly KeyEncryptionKeyOption[] = []) {
    this.#current = current === undefined ? null : toKek(current, 'keyEncryptionKey')
    this.#previous = previous.map((option) => toKek(option, 'previousKeyEncryptionKeys'))
  }

  /** True when new keys are stored wrapped. */
  get enabled(): boolean {
    return this.#current !== null
  }

  /** The form to store: wrapped under the current KEK, or the key itself without one. */
  async wrap(key: Uint8Array, id: string): Promise<Buffer> {
    const kek = this.#current
    if (!kek) return Buffer.from(key)
    if (kek.kind === 'local') return wrapKeyWith(kek.key, key, id)
    return encodeObjectWrapped(await kek.object.wrapKey(Uint8Array.from(key), id))
  }

  /** The image key of a stored one (raw keys as they are); ERR_KEY_UNWRAP naming the config field when no configured KEK opens it. */
  async unwrap(stored: Uint8Array, id: string): Promise<Buffer> {
    return (await this.open(stored, id)).key
  }

  async open(stored: Uint8Array, id: string): Promise<OpenedKey> {
    if (isRawKey(stored)) return { key: Buffer.from(stored), current: false }
    if (!this.#current) throw unwrapError(id, 'no keyEncryptionKey is configured (set it, or PIXSTORE_KEY_ENCRYPTION_KEY)')
    const all = [this.#current, ...this.#previous]
    const kekId = wrappingKekId(stored)
    if (kekId) {
      const kek = all.find((candidate) => candidate.kind === 'local' && candidate.id.equals(kekId)) as Extract<Kek, { kind: 'local' }> | undefined
      if (!kek) throw unwrapError(id, `it was wrapped by a key encryption key (id ${kekId.toString('hex')}) that is neither keyEncryptionKey nor in previousKeyEncryptionKeys`)
      try {
        return { key: unwrapKeyWith(kek.key, stored, id), current: kek === this.#current }
      } catch (error) {
        throw unwrapError(id, (error as Error).message)
      }
    }
    const wrapped = decodeObjectWrapped(stored)
    if (!wrapped) throw unwrapError(id, `it is ${stored.length} bytes in no known form`)
    const objects = all.filter((kek) => kek.kind === 'object')
    if (objects.length === 0) throw unwrapError(id, 'it was wrapped by a keyEncryptionKey object (a KMS), and none is configured')
    let lastError: unknown
    // An object's wrapped bytes name no KEK we can read: each configured object is asked in turn.
    for (const kek of objects) {
      try {
        const key = await kek.object.unwrapKey(Uint8Array.from(wrapped), id)
        if (!(key instanceof Uint8Array) || key.length !== RAW_KEY_LENGTH) throw new Error(`unwrapKey resolved to something other than ${RAW_KEY_LENGTH} bytes`)
        return { key: Buffer.from(key), current: kek === this.#current }
      } catch (error) {
        lastError = error
      }
    }
    throw unwrapError(id, `no configured keyEncryptionKey object unwraps it (${lastError instanceof Error ? lastError.message : String(lastError)})`)
  }
}

function toKek(option: KeyEncryptionKeyOption, field: string): Kek {
  if (typeof option === 'string') {
    const key = parseKeyEncryptionKey(option)
    if (!key) throw new PixstoreError(`${field}: not 32 bytes as base64 or hex`, 'ERR_CONFIG')
    return { kind: 'local', key, id: keyEncryptionKeyId(key) }
  }
  return { kind: 'object', object: option }
}

function unwrapError(id: string, why: string): PixstoreError {
  return new PixstoreError(`Image ${id}: its stored key does not unwrap with keyEncryptionKey or previousKeyEncryptionKeys: ${why}`, 'ERR_KEY_UNWRAP')
}
