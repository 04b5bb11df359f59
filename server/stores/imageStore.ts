import type { Readable } from 'node:stream'
import type { RawImageMeta } from '../../protocol/wire'

/** One image's current version, as every store returns it. */
export interface StoredImage {
  id: string
  /** Strictly increasing per id; (id, token) names one immutable version. */
  token: number
  key: Buffer
  iv: Buffer
  tag: Buffer
  format: number
  /** Plaintext image size in bytes, for operators. */
  size: number
  createdAt: number
  updatedAt: number
}

/** What names one immutable version: the ciphertext cache's key. */
export type ImageVersion = Pick<StoredImage, 'id' | 'token' | 'tag'>

export interface NewImageVersion {
  /** Whole, or chunks produced (encrypted) while the store writes the ones before; then `meta` is complete once all were taken. */
  ciphertext: Uint8Array | Iterable<Uint8Array>
  meta: RawImageMeta
  format: number
  size: number
  /** Keep an existing token (imports, migrations); a new one is chosen when absent. */
  token?: number
  /**
   * Checks still to pass. The store runs this after the bytes are on their
   * way to storage and before it commits anything, so the checks overlap the
   * disk's work; when it throws (or rejects), nothing is left behind.
   */
  validate?: () => void | Promise<void>
}

/** The ciphertext in one piece, for stores that send it whole. */
export function wholeCiphertext({ ciphertext }: NewImageVersion): Uint8Array {
  if (ciphertext instanceof Uint8Array) return ciphertext
  const chunks = [...ciphertext]
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
}

/** Metadata plus the ciphertext that belongs to exactly that version. */
export interface StoredCiphertext {
  image: StoredImage
  ciphertext: Buffer
}

/** A version too big to hold in memory: `size` bytes of ciphertext, read once from `stream`. */
export interface StoredCiphertextStream {
  image: StoredImage
  size: number
  stream: Readable
}

/**
 * The seam between the backend and where bytes live. Every implementation
 * must switch versions atomically: a reader never gets ciphertext that does
 * not match the meta it got with it, and a failed write leaves the previous
 * version intact. The same store tests run against every implementation.
 */
export interface ImageStore {
  /** Creates or migrates the schema and clears crash leftovers (then keeps clearing them while open); the backend awaits it before serving. */
  open(): Promise<void>
  /** The current version's meta, from the metadata alone (cheap: the endpoint calls it per request); null for an unknown id. */
  get(id: string): Promise<StoredImage | null>
  has(id: string): Promise<boolean>
  /** Fails when `id` exists. */
  insert(id: string, version: NewImageVersion): Promise<StoredImage>
  /** Switches `id` to a new version; null (and nothing left behind) when the id does not exist. */
  replace(id: string, version: NewImageVersion): Promise<StoredImage | null>
  delete(id: string): Promise<boolean>
  /** Throws ImageDataMissingError when the row exists but its ciphertext is gone (so does readStream). */
  read(id: string): Promise<StoredCiphertext | null>
  /** Optional: just what names the current version, cheaper than `get` where meta columns cost (SQLite BLOBs). */
  version?(id: string): Promise<ImageVersion | null>
  /** Optional: stores that can hand out bytes without loading them (files) stream large images. */
  readStream?(id: string): Promise<StoredCiphertextStream | null>
  /**
   * Optional, for stores that keep meta and bytes apart (SQLite + files): true
   * when the current version's bytes are there, so records are only handed out
   * for images the endpoint can serve.
   */
  hasCiphertext?(id: string): Promise<boolean>
  /**
   * Switches the stored key of `id` to `key` when the row still holds `expected`
   * at `token` (`pixstore rekey` rewraps keys while the store may serve);
   * false when the row changed meanwhile or is gone. Nothing else changes.
   */
  replaceKey(id: string, token: number, expected: Uint8Array, key: Uint8Array): Promise<boolean>
  /** The key checks: wrapped values saying which key encryption keys this store's keys need (keys/keyCheck.ts). */
  keyChecks(): Promise<Buffer[]>
  /** Adds key checks, or (`replace`) swaps all of them for these in one step. */
  writeKeyChecks(checks: readonly Uint8Array[], mode: 'add' | 'replace'): Promise<void>
  /** Optional: writes back and empties a log that may still hold replaced keys (SQLite's WAL), after a rekey. */
  flushLog?(): Promise<void>
  /** Every stored id, in a stable order, for tools that walk the whole store (verify, migrate). */
  ids(): AsyncIterable<string>
  close(): Promise<void>
}
