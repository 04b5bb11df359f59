import { CacheExpiration } from 'workbox-expiration'

export interface ExpirationLimits {
  maxEntries: number
  maxAgeSeconds: number
}

/**
 * workbox-expiration around the image cache: least-recently-used eviction
 * beyond `maxEntries`, and removal of images not shown for `maxAgeSeconds`.
 * Its IndexedDB bookkeeping holds only URLs (backend origin, route, id) and
 * times, never a key or a proof.
 */
export class ImageExpiration {
  private readonly expiration: CacheExpiration
  /** Use times are written one at a time, each in a later millisecond than the one before (see `stamp`). */
  private stamps: Promise<unknown> = Promise.resolve()
  private lastStamp = 0

  constructor(
    private readonly cacheName: string,
    limits: ExpirationLimits,
  ) {
    this.expiration = new CacheExpiration(cacheName, limits)
  }

  /** Whether `url` went unused for longer than `maxAgeSeconds`. */
  isExpired(url: string): Promise<boolean> {
    return this.expiration.isURLExpired(url)
  }

  /** Marks `url` as used now (least recently used goes first). */
  used(url: string): Promise<void> {
    return this.stamp(url)
  }

  /** Records a newly cached `url`, then evicts what is over the limits (workbox folds a pass asked for while one runs into one rerun). */
  async added(url: string): Promise<void> {
    await this.stamp(url)
    await this.expiration.expireEntries()
  }

  /**
   * workbox stamps a URL with `Date.now()`, in milliseconds, and evicts the
   * oldest stamps first. Writes behind a burst put several images within one
   * millisecond (seen in WebKit), and equal stamps evict in no defined order:
   * an image shown later could go before one shown earlier. So stamps are
   * taken in call order (the order images were answered), each once the clock
   * has passed the previous one.
   */
  private stamp(url: string): Promise<void> {
    const next = this.stamps.then(async () => {
      while (Date.now() <= this.lastStamp) await new Promise((resolve) => setTimeout(resolve, 1))
      await this.expiration.updateTimestamp(url)
      this.lastStamp = Date.now()
    })
    this.stamps = next.catch(() => undefined)
    return next
  }

  /** Makes room after a QuotaExceededError: the least recently used half goes. */
  async evictHalf(entries: number): Promise<void> {
    const keep = Math.floor(entries / 2)
    if (keep === 0) {
      await caches.delete(this.cacheName)
      await this.expiration.delete()
      return
    }
    await new CacheExpiration(this.cacheName, { maxEntries: keep }).expireEntries()
  }

  /** Forgets every timestamp (the cache itself is deleted by the caller). */
  clear(): Promise<void> {
    return this.expiration.delete()
  }
}
