import type { CachedImage, ImageCache } from './imageCache'
import type { ExpirationLimits } from './imageExpiration'
import { MemoryImageCache } from './memoryImageCache'

/** How many recent images the worker keeps in memory in front of Cache Storage, and for how long. */
export const RECENT_IMAGES = { maxEntries: 48, maxBytes: 32 * 1024 * 1024, maxAgeSeconds: 10 * 60 }

/**
 * A small in-memory set of recently shown images in front of the persistent
 * image cache. A repeated view (a reload, a carousel coming round) is answered
 * without opening Cache Storage, and an image whose write to disk is still
 * running (it is answered first, stored afterwards) already counts as cached.
 */
export class RecentImages implements ImageCache {
  private readonly recent: MemoryImageCache
  private readonly writes = new Map<string, Promise<void>>()

  /** `limits`: the app's image cache limits; memory never keeps an image longer or more images than they allow. */
  constructor(
    private readonly stored: ImageCache,
    limits: ExpirationLimits,
  ) {
    this.recent = new MemoryImageCache({
      maxEntries: Math.min(RECENT_IMAGES.maxEntries, limits.maxEntries),
      maxAgeSeconds: Math.min(RECENT_IMAGES.maxAgeSeconds, limits.maxAgeSeconds),
      maxBytes: RECENT_IMAGES.maxBytes,
    })
  }

  async match(url: string, token: number): Promise<Response | undefined> {
    const recent = await this.recent.match(url, token)
    if (recent) return recent
    const stored = await this.stored.match(url, token)
    if (stored) void this.remember(url, token, stored.clone())
    return stored
  }

  /** Resolves when the image is on disk too; callers answer first and hand this to `event.waitUntil`. */
  put(url: string, image: CachedImage): Promise<void> {
    void this.recent.put(url, image)
    const previous = this.writes.get(url) ?? Promise.resolve()
    const write = previous.then(() => this.stored.put(url, image)).finally(() => {
      if (this.writes.get(url) === write) this.writes.delete(url)
    })
    this.writes.set(url, write)
    return write
  }

  async has(url: string): Promise<boolean> {
    return (await this.recent.has(url)) || this.writes.has(url) || this.stored.has(url)
  }

  async delete(url: string): Promise<boolean> {
    const inMemory = await this.recent.delete(url)
    await this.writes.get(url) // a write still running would bring it back
    return (await this.stored.delete(url)) || inMemory
  }

  async clear(): Promise<number> {
    await this.recent.clear()
    await Promise.allSettled(this.writes.values())
    return this.stored.clear()
  }

  private async remember(url: string, token: number, response: Response): Promise<void> {
    try {
      const image = new Uint8Array(await response.arrayBuffer())
      await this.recent.put(url, { image, mimeType: response.headers.get('Content-Type') ?? 'application/octet-stream', token })
    } catch {
      // Only a shortcut for the next view.
    }
  }
}
