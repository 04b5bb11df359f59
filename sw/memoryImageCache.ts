import type { CachedImage, ImageCache } from './imageCache'
import type { ExpirationLimits } from './imageExpiration'
import { imageResponse } from './imageResponse'

/**
 * `persist: false`: decrypted images only in the worker's memory, nothing on
 * disk. Same limits as the Cache Storage cache (a Map keeps use order, so the
 * first entry is the least recently used). Gone whenever the browser stops
 * the worker; images are then fetched again.
 */
export class MemoryImageCache implements ImageCache {
  private readonly images = new Map<string, CachedImage & { usedAt: number }>()

  constructor(
    private readonly limits: ExpirationLimits,
    private readonly now = Date.now,
  ) {}

  async match(url: string, token: number): Promise<Response | undefined> {
    const held = this.images.get(url)
    if (!held || held.token !== token) return undefined
    this.images.delete(url)
    if (this.now() - held.usedAt > this.limits.maxAgeSeconds * 1000) return undefined
    this.images.set(url, { ...held, usedAt: this.now() })
    return imageResponse(held.image, held.mimeType, held.token)
  }

  async put(url: string, image: CachedImage): Promise<void> {
    const held = this.images.get(url)
    if (held && held.token > image.token) return
    this.images.delete(url)
    this.images.set(url, { ...image, usedAt: this.now() })
    for (const oldest of this.images.keys()) {
      if (this.images.size <= this.limits.maxEntries) break
      this.images.delete(oldest)
    }
  }

  async has(url: string): Promise<boolean> {
    return this.images.has(url)
  }

  async delete(url: string): Promise<boolean> {
    return this.images.delete(url)
  }

  async clear(): Promise<number> {
    const count = this.images.size
    this.images.clear()
    return count
  }
}
