import type { ImageRecord } from '../protocol/record'

/**
 * The worker's records, in memory only: the browser may stop the worker at
 * any time and this is lost, which is why pages can be asked again.
 */
export class RecordStore {
  private readonly records = new Map<string, ImageRecord>()
  /**
   * Counts logouts: a request notes it when it starts, and anything it got
   * (a record from a page, a decrypted image) is kept only while it is unchanged.
   */
  private logouts = 0
  /** Called at the next logout: requests still reading an answer (see onLogout). */
  private readonly logoutListeners = new Set<() => void>()

  get generation(): number {
    return this.logouts
  }

  get(id: string): ImageRecord | undefined {
    return this.records.get(id)
  }

  /**
   * Keeps the newest token with its meta (an Updated answer can make the
   * worker's version newer than the page's) but always the latest proof,
   * since proofs expire and pages hand out fresh ones.
   */
  set(record: ImageRecord): void {
    const held = this.records.get(record.id)
    this.records.set(record.id, held && held.token > record.token ? { ...record, token: held.token, meta: held.meta } : record)
  }

  /**
   * Calls `listener` at the next logout, or at once if one happened since
   * `generation`; returns the call that stops listening (a request calls it
   * when it is done, so only running requests are held here). A request
   * reading an answer across a logout stops there and then, not at its next byte.
   */
  onLogout(generation: number, listener: () => void): () => void {
    if (generation !== this.logouts) {
      listener()
      return () => {}
    }
    this.logoutListeners.add(listener)
    return () => this.logoutListeners.delete(listener)
  }

  /** Forgets every record (logging out): keys and proofs leave the worker's memory, and requests already running keep nothing. */
  clear(): void {
    this.records.clear()
    this.logouts++
    const listeners = [...this.logoutListeners]
    this.logoutListeners.clear()
    for (const listener of listeners) listener()
  }
}
