import { TOKEN_HEADER } from '../protocol/wire'
import type { CachedImage, ImageCache } from './imageCache'
import { ImageExpiration, type ExpirationLimits } from './imageExpiration'
import { imageResponse } from './imageResponse'

export const IMAGE_CACHE_NAME = 'pixstore-images-v1'

/**
 * Decrypted images in Cache Storage, one entry per image, tagged with the
 * token of the version it holds, bounded by workbox-expiration. Entries
 * carry only Content-Type, Content-Length and the token.
 */
export class CacheStorageImageCache implements ImageCache {
  private readonly expiration: ImageExpiration
  /** Opened once; reset when the cache is deleted (clear, or a full disk). */
  private opened: Promise<Cache> | null = null

  constructor(
    limits: ExpirationLimits,
    private readonly cacheName = IMAGE_CACHE_NAME,
  ) {
    this.expiration = new ImageExpiration(cacheName, limits)
  }

  async match(url: string, token: number): Promise<Response | undefined> {
    const cache = await this.open()
    const cached = await cache.match(url)
    if (cached?.headers.get(TOKEN_HEADER) !== String(token)) return undefined
    try {
      if (await this.expiration.isExpired(url)) {
        await cache.delete(url)
        return undefined
      }
      // Not awaited (as in workbox's ExpirationPlugin): the use time need not delay the image.
      this.expiration.used(url).catch(bookkeepingFailed)
    } catch (error) {
      bookkeepingFailed(error)
    }
    return cached
  }

  async put(url: string, image: CachedImage): Promise<void> {
    try {
      const cache = await this.open()
      const held = await cache.match(url)
      if (held && tokenOf(held) > image.token) return
      try {
        await cache.put(url, imageResponse(image.image, image.mimeType, image.token))
      } catch (error) {
        if (!isQuotaError(error)) throw error
        await this.expiration.evictHalf((await cache.keys()).length)
        this.opened = null // evictHalf may have deleted the whole cache
        await (await this.open()).put(url, imageResponse(image.image, image.mimeType, image.token))
      }
      await this.expiration.added(url)
    } catch (error) {
      console.warn('[pixstore] could not cache an image:', error instanceof Error ? error.name : error)
    }
  }

  async has(url: string): Promise<boolean> {
    return (await (await this.open()).match(url)) !== undefined
  }

  async delete(url: string): Promise<boolean> {
    return (await this.open()).delete(url)
  }

  async clear(): Promise<number> {
    const count = (await caches.has(this.cacheName)) ? (await (await this.open()).keys()).length : 0
    await caches.delete(this.cacheName)
    this.opened = null
    await this.expiration.clear()
    return count
  }

  private open(): Promise<Cache> {
    this.opened ??= caches.open(this.cacheName)
    return this.opened
  }
}

/** Bookkeeping (IndexedDB) failing must not cost the image. */
const bookkeepingFailed = (error: unknown) => console.warn('[pixstore] image cache expiration failed:', error instanceof Error ? error.name : error)

const tokenOf = (response: Response) => Number(response.headers.get(TOKEN_HEADER) ?? -1)

const isQuotaError = (error: unknown) => error instanceof DOMException && error.name === 'QuotaExceededError'
