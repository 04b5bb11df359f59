import { TOKEN_HEADER } from '../protocol/wire'
import type { CachedImage, ImageCache } from './imageCache'
import { ImageExpiration, type ExpirationLimits } from './imageExpiration'
import { ImageFailure } from './imageFailure'
import { imageResponse } from './imageResponse'

export const IMAGE_CACHE_NAME = 'pixstore-images-v1'

/**
 * Decrypted images in Cache Storage, one entry per image, tagged with the
 * token of the version it holds, bounded by workbox-expiration. Entries
 * carry only Content-Type, Content-Length and the token.
 *
 * The URLs held are read once per worker life (starting when the cache is
 * made) and kept up to date by this worker's writes, so a miss, as every
 * image on a first visit, is known at once and the backend fetch starts
 * without waiting for a Cache Storage lookup. The list is only a filter: an
 * entry it names is still looked up and checked, so when it is stale (another
 * worker's writes, expiration) an image is at worst fetched, never wrong.
 */
export class CacheStorageImageCache implements ImageCache {
  private readonly expiration: ImageExpiration
  /** Opened once; reset when the cache is deleted (clear, or a full disk). */
  private opened: Promise<Cache> | null = null
  /** URLs with an entry; null when they could not be read (then every miss is looked up). */
  private held: Promise<Set<string> | null>

  constructor(
    limits: ExpirationLimits,
    private readonly cacheName = IMAGE_CACHE_NAME,
  ) {
    this.expiration = new ImageExpiration(cacheName, limits)
    this.held = this.readHeld()
  }

  async match(url: string, token: number): Promise<Response | undefined> {
    if ((await this.held)?.has(url) === false) return undefined
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
      if ((await this.held)?.has(url) !== false) {
        const held = await cache.match(url)
        if (held && tokenOf(held) > image.token) return
      }
      try {
        await cache.put(url, imageResponse(image.image, image.mimeType, image.token))
      } catch (error) {
        if (!isQuotaError(error)) throw error
        await this.putEvicting(url, image)
      }
      ;(await this.held)?.add(url)
      // Not awaited: the next write need not wait, and a burst's eviction passes then fold into one or two.
      this.expiration.added(url).catch(bookkeepingFailed)
    } catch (error) {
      console.warn('[pixstore] could not cache an image:', error instanceof Error ? error.name : error)
    }
  }

  /**
   * Cache.put reads a stream body to its end before it commits the entry, and
   * commits nothing when the stream errors: the image is never stored unless
   * every record authenticated. A full disk costs the image its entry (the
   * stream cannot be read twice); the next view fetches it again.
   */
  async putStream(url: string, image: ReadableStream<Uint8Array>, mimeType: string, token: number): Promise<boolean> {
    try {
      const cache = await this.open()
      if ((await this.held)?.has(url) !== false) {
        const held = await cache.match(url)
        if (held && tokenOf(held) > token) {
          await image.pipeTo(new WritableStream()) // read, not kept: the fetch still learns whether it was whole
          return false
        }
      }
      await cache.put(url, new Response(image as ReadableStream<Uint8Array<ArrayBuffer>>, { headers: { 'Content-Type': mimeType, [TOKEN_HEADER]: String(token) } }))
      // Its use time first, then it counts as held: to workbox an entry without one has expired, so a match in
      // between (a request that joined this fetch, served from the cache right after) would delete it and fetch again.
      await this.expiration.added(url).catch(bookkeepingFailed)
      ;(await this.held)?.add(url)
      return true
    } catch (error) {
      if (!(error instanceof ImageFailure)) console.warn('[pixstore] could not cache an image:', error instanceof Error ? error.name : error)
      return false
    }
  }

  async has(url: string): Promise<boolean> {
    if ((await this.held)?.has(url) === false) return false
    return (await (await this.open()).match(url)) !== undefined
  }

  async delete(url: string): Promise<boolean> {
    const deleted = await (await this.open()).delete(url)
    ;(await this.held)?.delete(url)
    return deleted
  }

  async clear(): Promise<number> {
    const count = (await caches.has(this.cacheName)) ? (await (await this.open()).keys()).length : 0
    await caches.delete(this.cacheName)
    this.opened = null
    this.held = Promise.resolve(new Set())
    await this.expiration.clear()
    return count
  }

  /**
   * A full disk: evict the least recently used half and try again, until the
   * image fits or the cache is empty. Once is not enough when the new image
   * is bigger than the half that went (seen under load in the e2e suite).
   */
  private async putEvicting(url: string, image: CachedImage): Promise<void> {
    let previous = Infinity
    for (;;) {
      const entries = (await (await this.open()).keys()).length
      // Entries without bookkeeping are not evicted by expiration: when a pass freed nothing, drop the cache.
      await this.expiration.evictHalf(entries < previous ? entries : 0)
      previous = entries
      this.opened = null // evictHalf may have deleted the whole cache
      this.held = this.readHeld()
      try {
        await (await this.open()).put(url, imageResponse(image.image, image.mimeType, image.token))
        return
      } catch (error) {
        if (!isQuotaError(error) || entries === 0) throw error
      }
    }
  }

  private async readHeld(): Promise<Set<string> | null> {
    try {
      return new Set((await (await this.open()).keys()).map((request) => request.url))
    } catch {
      return null
    }
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
