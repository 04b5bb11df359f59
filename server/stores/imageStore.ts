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

export interface NewImageVersion {
  ciphertext: Uint8Array
  meta: RawImageMeta
  format: number
  size: number
  /** Keep an existing token (imports, migrations); a new one is chosen when absent. */
  token?: number
}

/** Metadata plus the ciphertext that belongs to exactly that version. */
export interface StoredCiphertext {
  image: StoredImage
  ciphertext: Buffer
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
  /** Null for an unknown id; throws ImageDataMissingError when the row exists but its ciphertext is gone (so is read). */
  get(id: string): Promise<StoredImage | null>
  has(id: string): Promise<boolean>
  /** Fails when `id` exists. */
  insert(id: string, version: NewImageVersion): Promise<StoredImage>
  /** Switches `id` to a new version; null (and nothing left behind) when the id does not exist. */
  replace(id: string, version: NewImageVersion): Promise<StoredImage | null>
  delete(id: string): Promise<boolean>
  read(id: string): Promise<StoredCiphertext | null>
  /** Every stored id, in a stable order, for tools that walk the whole store (verify, migrate). */
  ids(): AsyncIterable<string>
  close(): Promise<void>
}
