import type { StoredImage } from './stores/imageStore'

interface Entry {
  buffer: Buffer
  /** Answers still sending this buffer: it stays in memory (and counted) until the last one ends. */
  pins: number
  /** Findable by `get`; an entry that is only pinned is not. */
  cached: boolean
}

/**
 * Recently served ciphertexts, least recently used first out, bounded by
 * bytes. Keyed by the immutable version (id, token, tag): an update makes a
 * new key, so an entry can never answer for another version, even when other
 * processes write the same store. Old versions simply age out.
 *
 * The budget counts every whole ciphertext the read path holds, not only the
 * cached ones: buffers still being sent to clients (pinned, even after they
 * left the cache) and reads on their way in (reserved). Evicting a buffer a
 * slow client still holds frees nothing, so the budget is what memory really
 * holds; when it is full, the reader streams instead of reading whole.
 */
export class CiphertextCache {
  private readonly entries = new Map<string, Entry>()
  private held = 0
  /** One entry may take at most a quarter of the budget, so a few big images cannot flush everything. */
  readonly maxEntryBytes: number

  constructor(readonly budgetBytes: number) {
    this.maxEntryBytes = Math.floor(budgetBytes / 4)
  }

  static key(image: Pick<StoredImage, 'id' | 'token' | 'tag'>): string {
    return `${image.id}\n${image.token}\n${image.tag.toString('base64')}`
  }

  /** Cached entries, and the bytes held: cached, pinned and reserved. */
  get size(): { entries: number; bytes: number } {
    let entries = 0
    for (const entry of this.entries.values()) if (entry.cached) entries++
    return { entries, bytes: this.held }
  }

  get(key: string): Buffer | undefined {
    const entry = this.entries.get(key)
    if (!entry?.cached) return undefined
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry.buffer
  }

  /** Keeps `value` unless it is bigger than `maxEntryBytes`; evicts the least recently used unpinned entries to fit. */
  set(key: string, value: Buffer): void {
    if (value.length > this.maxEntryBytes) return
    const entry = this.entries.get(key)
    if (entry) {
      // A pinned buffer is in memory anyway (and holds the same immutable version): keep it.
      if (entry.pins === 0) {
        this.held += value.length - entry.buffer.length
        entry.buffer = value
      }
      entry.cached = true
      this.entries.delete(key)
      this.entries.set(key, entry)
    } else {
      this.entries.set(key, { buffer: value, pins: 0, cached: true })
      this.held += value.length
    }
    this.evict(0)
  }

  delete(key: string): void {
    const entry = this.entries.get(key)
    if (!entry) return
    entry.cached = false
    if (entry.pins === 0) this.drop(key, entry)
  }

  /**
   * Room for a whole read of `bytes`, counted from now: true when it fits the
   * budget (after evicting what no answer holds). The caller gives it back
   * with `unreserve` once the bytes are `set` or the read failed.
   */
  reserve(bytes: number): boolean {
    if (bytes > this.maxEntryBytes) return false
    this.evict(bytes)
    if (this.held + bytes > this.budgetBytes) return false
    this.held += bytes
    return true
  }

  unreserve(bytes: number): void {
    this.held -= bytes
  }

  /** Counts `buffer` as held until the returned function is called (once is enough; more calls do nothing). */
  pin(key: string, buffer: Buffer): () => void {
    let entry = this.entries.get(key)
    if (!entry) {
      entry = { buffer, pins: 0, cached: false }
      this.entries.set(key, entry)
      this.held += buffer.length
    }
    const pinned = entry
    pinned.pins++
    let released = false
    return () => {
      if (released) return
      released = true
      pinned.pins--
      if (pinned.pins === 0 && !pinned.cached) this.drop(key, pinned)
      else if (pinned.pins === 0) this.evict(0)
    }
  }

  private evict(extra: number): void {
    for (const [key, entry] of this.entries) {
      if (this.held + extra <= this.budgetBytes) return
      if (entry.pins > 0) continue
      this.drop(key, entry)
    }
  }

  private drop(key: string, entry: Entry): void {
    if (this.entries.get(key) !== entry) return
    this.entries.delete(key)
    this.held -= entry.buffer.length
  }
}
