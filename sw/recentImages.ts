import type { CachedImage, ImageCache } from './imageCache'
import type { ExpirationLimits } from './imageExpiration'
import { MemoryImageCache } from './memoryImageCache'

/** How many recent images the worker keeps in memory in front of Cache Storage, and for how long. */
export const RECENT_IMAGES = { maxEntries: 48, maxBytes: 32 * 1024 * 1024, maxAgeSeconds: 10 * 60 }
/** Images read back from disk are kept in memory only up to this size: a few large ones would push out dozens of small ones. */
const MAX_REMEMBERED_BYTES = RECENT_IMAGES.maxBytes / 8
/** Writes to disk wait for this long a pause in new images (a page's burst), then run one at a time... */
const WRITE_DELAY_MS = 250
/** ...unless this many are waiting: pending images are held in memory, so their number is bounded. */
const MAX_PENDING_WRITES = 32

interface PendingWrite {
  url: string
  image: CachedImage
  done: () => void
}

/**
 * A small in-memory set of recently shown images in front of the persistent
 * image cache. A repeated view is answered without opening Cache Storage.
 * Writes to disk are behind: a page that shows many images at once gets them
 * all decrypted and answered first (measured: writing while the burst runs
 * made a first visit of 24 images about 1.8x slower), and an image waiting
 * for its write already counts as cached.
 */
export class RecentImages implements ImageCache {
  private readonly recent: MemoryImageCache
  private readonly pending: PendingWrite[] = []
  private readonly writes = new Map<string, Promise<void>>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private flushing: Promise<void> | null = null
  /** Counts clears: an image read back from disk before a clear is not put into memory after it. */
  private clears = 0

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
    // A large image stays on disk (its blob streams to the page); memory keeps the small ones many pages show.
    if (stored && Number(stored.headers.get('Content-Length') ?? Infinity) <= MAX_REMEMBERED_BYTES) void this.remember(url, token, stored.clone())
    return stored
  }

  /** Resolves when the image is on disk too; callers answer first and hand this to `event.waitUntil`. */
  put(url: string, image: CachedImage): Promise<void> {
    void this.recent.put(url, image)
    const written = new Promise<void>((done) => this.pending.push({ url, image, done }))
    const tracked = written.finally(() => {
      if (this.writes.get(url) === tracked) this.writes.delete(url)
    })
    this.writes.set(url, tracked)
    clearTimeout(this.timer)
    if (this.pending.length >= MAX_PENDING_WRITES) void this.flush()
    else this.timer = setTimeout(() => void this.flush(), WRITE_DELAY_MS)
    return tracked
  }

  /**
   * A large streamed image goes straight to the persistent cache as it
   * arrives (held in memory neither here nor in a pending write, so ten of
   * them cost a few records each, not their size); an older copy in memory
   * or waiting to be written is dropped first.
   */
  async putStream(url: string, image: ReadableStream<Uint8Array>, mimeType: string, token: number): Promise<boolean> {
    await this.recent.delete(url)
    this.drop((write) => write.url === url)
    return this.stored.putStream(url, image, mimeType, token)
  }

  async has(url: string): Promise<boolean> {
    return (await this.recent.has(url)) || this.writes.has(url) || this.stored.has(url)
  }

  async delete(url: string): Promise<boolean> {
    const inMemory = await this.recent.delete(url)
    const waiting = this.drop((write) => write.url === url)
    await this.flushing // a write already running would bring it back
    return (await this.stored.delete(url)) || inMemory || waiting > 0
  }

  async clear(): Promise<number> {
    this.clears++
    await this.recent.clear()
    this.drop(() => true)
    await this.flushing
    return this.stored.clear()
  }

  /** Writes the waiting images one at a time, so they never compete with each other or with new requests in a burst. */
  private flush(): Promise<void> {
    clearTimeout(this.timer)
    // Only with something waiting: a run over nothing ends before it is recorded as running, and would then stay "running" for good.
    if (!this.flushing && this.pending.length > 0) this.flushing = this.writeWaiting()
    return this.flushing ?? Promise.resolve()
  }

  private async writeWaiting(): Promise<void> {
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        try {
          await this.stored.put(next.url, next.image)
        } finally {
          next.done()
        }
      }
    } finally {
      this.flushing = null
    }
  }

  /** Forgets waiting writes that `which` selects; returns how many. */
  private drop(which: (write: PendingWrite) => boolean): number {
    const dropped = this.pending.filter(which)
    for (const write of dropped) {
      this.pending.splice(this.pending.indexOf(write), 1)
      write.done()
    }
    return dropped.length
  }

  private async remember(url: string, token: number, response: Response): Promise<void> {
    const clears = this.clears
    try {
      const image = new Uint8Array(await response.arrayBuffer())
      if (clears !== this.clears) return
      await this.recent.put(url, { image, mimeType: response.headers.get('Content-Type') ?? 'application/octet-stream', token })
    } catch {
      // Only a shortcut for the next view.
    }
  }
}
