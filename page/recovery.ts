import type { ImageFailureState } from '../protocol/messages'

/** Failures a later request can fix by itself once the backend answers again. */
export const RECOVERABLE_STATES: ReadonlySet<ImageFailureState> = new Set(['BackendUnreachable', 'InternalError', 'UnexpectedResponse'])
/** Backoff between probes: from the first delay, doubling, never above the longest. */
export const RECOVERY_DELAYS_MS = { first: 1000, longest: 30_000 }

/** What re-requesting the failed `<img>`s of one id gave: shown, failed again, or none left on the page. */
export type ReloadOutcome = 'load' | 'error' | 'gone'

export interface RecoveryOptions {
  /** Re-requests the failed `<img>`s of `id` and settles with the first outcome. */
  reload(id: string): Promise<ReloadOutcome>
  setTimeout?: (run: () => void, ms: number) => unknown
  clearTimeout?: (timer: unknown) => void
}

/**
 * Brings back images that failed because the backend was down (unreachable,
 * InternalError, a proxy's error status) without a reload, however long the
 * outage. It lives in the page, not the worker: the browser stops an idle
 * worker within about 30 s, while the page outlives any outage, holds the
 * `<img>`s and hears `online`. One failed image is the probe: its `<img>` is
 * requested again after a backoff (1 s doubling to 30 s, or at once on
 * `online`); when it shows, every other waiting image is requested again.
 * So a long outage costs one request per 30 s, whatever the number of images.
 */
export class ImageRecovery {
  /** Ids waiting, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<string>()
  private delay = RECOVERY_DELAYS_MS.first
  private timer: unknown = null
  private probing = false
  private readonly schedule: (run: () => void, ms: number) => unknown
  private readonly cancel: (timer: unknown) => void

  constructor(private readonly options: RecoveryOptions) {
    this.schedule = options.setTimeout ?? ((run, ms) => setTimeout(run, ms))
    this.cancel = options.clearTimeout ?? ((timer) => clearTimeout(timer as ReturnType<typeof setTimeout>))
  }

  /**
   * An image failed. Returns true when it was already waiting for the backend
   * (a probe that failed again): its failure was reported the first time.
   */
  failed(id: string, state: ImageFailureState): boolean {
    if (!RECOVERABLE_STATES.has(state)) {
      this.waiting.delete(id)
      return false
    }
    const known = this.waiting.has(id)
    this.waiting.add(id)
    this.arm()
    return known
  }

  /** The browser is back online: probe now, from the first delay. */
  online(): void {
    this.delay = RECOVERY_DELAYS_MS.first
    this.disarm()
    void this.probe()
  }

  /** Logging out: nothing is retried for the user who left. */
  clear(): void {
    this.waiting.clear()
    this.disarm()
  }

  get pending(): number {
    return this.waiting.size
  }

  private arm(): void {
    if (this.timer !== null || this.probing || this.waiting.size === 0) return
    this.timer = this.schedule(() => {
      this.timer = null
      void this.probe()
    }, this.delay)
  }

  private disarm(): void {
    if (this.timer !== null) this.cancel(this.timer)
    this.timer = null
  }

  private async probe(): Promise<void> {
    const id = this.waiting.values().next().value
    if (this.probing || id === undefined) return
    this.probing = true
    try {
      const outcome = await this.options.reload(id)
      if (outcome === 'error') {
        this.delay = Math.min(this.delay * 2, RECOVERY_DELAYS_MS.longest)
        return
      }
      this.waiting.delete(id)
      if (outcome === 'gone') return
      // The backend answers again: everything else waiting goes now.
      this.delay = RECOVERY_DELAYS_MS.first
      const rest = [...this.waiting]
      const outcomes = await Promise.all(rest.map((other) => this.options.reload(other)))
      rest.forEach((other, i) => {
        if (outcomes[i] !== 'error') this.waiting.delete(other)
      })
    } finally {
      this.probing = false
      this.arm()
    }
  }
}
