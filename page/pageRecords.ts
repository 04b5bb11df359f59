import type { ImageRecord } from '../protocol/record'

/**
 * The page's copy of every record it was given, in memory only. It outlives
 * the worker, which the browser may stop at any time: a restarted worker asks
 * for records here. A worker may ask before the app has set the record (an
 * `<img>` in the HTML races the app's record fetch), so a lookup can wait.
 */
export class PageRecords {
  private readonly records = new Map<string, ImageRecord>()
  private readonly waiting = new Map<string, Set<(record: ImageRecord | null) => void>>()

  set(record: ImageRecord): void {
    this.records.set(record.id, record)
    const waiters = this.waiting.get(record.id)
    this.waiting.delete(record.id)
    for (const resolve of waiters ?? []) resolve(record)
  }

  get(id: string): ImageRecord | undefined {
    return this.records.get(id)
  }

  /** Forgets every record (logging out). Lookups still waiting end with null: the user they waited for has left. */
  clear(): void {
    this.records.clear()
    const waiting = [...this.waiting.values()]
    this.waiting.clear()
    for (const waiters of waiting) for (const resolve of waiters) resolve(null)
  }

  /** The record for `id`, waiting up to `timeoutMs` for it to be set; null if it never is. */
  waitFor(id: string, timeoutMs: number): Promise<ImageRecord | null> {
    const known = this.records.get(id)
    if (known) return Promise.resolve(known)
    return new Promise((resolve) => {
      const waiters = this.waiting.get(id) ?? new Set()
      this.waiting.set(id, waiters)
      const done = (record: ImageRecord | null) => {
        clearTimeout(timer)
        waiters.delete(done)
        if (waiters.size === 0 && this.waiting.get(id) === waiters) this.waiting.delete(id)
        resolve(record)
      }
      const timer = setTimeout(() => done(null), timeoutMs)
      waiters.add(done)
    })
  }
}
