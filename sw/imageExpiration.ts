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
    return this.expiration.updateTimestamp(url)
  }

  /** Records a newly cached `url`, then evicts what is over the limits (workbox folds a pass asked for while one runs into one rerun). */
  async added(url: string): Promise<void> {
    await this.expiration.updateTimestamp(url)
    await this.expiration.expireEntries()
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
