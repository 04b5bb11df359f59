import { TOKEN_HEADER } from '../protocol/wire'

/**
 * Decrypted images in Cache Storage, one entry per image, keyed by the
 * backend image URL (so two backends' ids cannot collide) and tagged with
 * the token of the version it holds. Entries carry no key material.
 */
export class ImageCache {
  constructor(private readonly cacheName = 'pixstore-images-v1') {}

  /** The cached image only if it is the version `token` names. */
  async match(url: string, token: number): Promise<Response | undefined> {
    const cached = await (await this.open()).match(url)
    return cached?.headers.get(TOKEN_HEADER) === String(token) ? cached : undefined
  }

  /** Stores `response` unless the cache already holds a newer version. */
  async put(url: string, response: Response): Promise<void> {
    const cache = await this.open()
    const held = await cache.match(url)
    if (held && tokenOf(held) > tokenOf(response)) return
    await cache.put(url, response)
  }

  async has(url: string): Promise<boolean> {
    return (await (await this.open()).match(url)) !== undefined
  }

  async delete(url: string): Promise<boolean> {
    return (await this.open()).delete(url)
  }

  /** Removes every cached image; returns how many there were. */
  async clear(): Promise<number> {
    if (!(await caches.has(this.cacheName))) return 0
    const count = (await (await this.open()).keys()).length
    await caches.delete(this.cacheName)
    return count
  }

  private open(): Promise<Cache> {
    return caches.open(this.cacheName)
  }
}

const tokenOf = (response: Response) => Number(response.headers.get(TOKEN_HEADER) ?? -1)
