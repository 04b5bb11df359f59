import type { CachedImage, ImageCache } from './imageCache'
import type { ExpirationLimits } from './imageExpiration'
import { imageResponse } from './imageResponse'

/**
 * `persist: false`: decrypted images only in the worker's memory, nothing on
 * disk (also the recent-images set in front of Cache Storage, with a byte
 * bound). Same limits as the Cache Storage cache (a Map keeps use order, so the
 * first entry is the least recently used). Gone whenever the browser stops
 * the worker; images are then fetched again.
 */
export class MemoryImageCache implements ImageCache {
  private readonly images = new Map<string, CachedImage & { usedAt: number }>()
  private bytes = 0

  constructor(
    private readonly limits: ExpirationLimits & { maxBytes?: number },
    private readonly now = Date.now,
  ) {}

  async match(url: string, token: number): Promise<Response | undefined> {
    const held = this.images.get(url)
    if (!held || held.token !== token) return undefined
    this.remove(url)
    if (this.now() - held.usedAt > this.limits.maxAgeSeconds * 1000) return undefined
    this.add(url, { ...held, usedAt: this.now() })
    return imageResponse(held.image, held.mimeType, held.token)
  }

  async put(url: string, image: CachedImage): Promise<void> {
    const held = this.images.get(url)
    if (held && held.token > image.token) return
    this.remove(url)
    this.add(url, { ...image, usedAt: this.now() })
    const maxBytes = this.limits.maxBytes ?? Infinity
    for (const oldest of this.images.keys()) {
      if (this.images.size <= this.limits.maxEntries && this.bytes <= maxBytes) break
      this.remove(oldest)
    }
  }

  /** Memory holds images whole: the stream is read to its end first (nothing is kept if it errors). */
  async putStream(url: string, image: ReadableStream<Uint8Array>, mimeType: string, token: number): Promise<boolean> {
    let bytes: Uint8Array<ArrayBuffer>
    try {
      bytes = new Uint8Array(await new Response(image as ReadableStream<Uint8Array<ArrayBuffer>>).arrayBuffer())
    } catch {
      return false
    }
    await this.put(url, { image: bytes, mimeType, token })
    return true
  }

  async has(url: string): Promise<boolean> {
    return this.images.has(url)
  }

  async delete(url: string): Promise<boolean> {
    return this.remove(url)
  }

  async clear(): Promise<number> {
    const count = this.images.size
    this.images.clear()
    this.bytes = 0
    return count
  }

  private add(url: string, image: CachedImage & { usedAt: number }): void {
    this.images.set(url, image)
    this.bytes += image.image.byteLength
  }

  private remove(url: string): boolean {
    const held = this.images.get(url)
    if (!held) return false
    this.images.delete(url)
    this.bytes -= held.image.byteLength
    return true
  }
}
