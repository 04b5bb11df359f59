import type { StoredImage } from './stores/imageStore'

/**
 * Recently served ciphertexts, least recently used first out, bounded by
 * bytes. Keyed by the immutable version (id, token, tag): an update makes a
 * new key, so an entry can never answer for another version, even when other
 * processes write the same store. Old versions simply age out.
 */
export class CiphertextCache {
  private readonly entries = new Map<string, Buffer>()
  private bytes = 0
  /** One entry may take at most a quarter of the budget, so a few big images cannot flush everything. */
  readonly maxEntryBytes: number

  constructor(readonly budgetBytes: number) {
    this.maxEntryBytes = Math.floor(budgetBytes / 4)
  }

  static key(image: Pick<StoredImage, 'id' | 'token' | 'tag'>): string {
    return `${image.id}\n${image.token}\n${image.tag.toString('base64')}`
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }

  get(key: string): Buffer | undefined {
    const value = this.entries.get(key)
    if (value) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  /** Keeps `value` unless it is bigger than `maxEntryBytes`; evicts the least recently used to fit. */
  set(key: string, value: Buffer): void {
    if (value.length > this.maxEntryBytes) return
    this.delete(key)
    this.entries.set(key, value)
    this.bytes += value.length
    for (const [oldest, buffer] of this.entries) {
      if (this.bytes <= this.budgetBytes) break
      this.entries.delete(oldest)
      this.bytes -= buffer.length
    }
  }

  delete(key: string): void {
    const value = this.entries.get(key)
    if (!value) return
    this.entries.delete(key)
    this.bytes -= value.length
  }
}
