/** A decrypted image as the worker keeps it: no key, no proof, only the token of its version. */
export interface CachedImage {
  image: Uint8Array<ArrayBuffer>
  mimeType: string
  token: number
}

/**
 * Where the worker keeps decrypted images, keyed by the backend image URL
 * (so two backends' ids cannot collide): Cache Storage (`persist: true`) or
 * the worker's memory. Both are bounded by entries and age.
 */
export interface ImageCache {
  /** The image as a response, only if the cache holds the version `token` names and it has not expired. */
  match(url: string, token: number): Promise<Response | undefined>
  /** Stores the image unless a newer version is held; never throws (a full disk only means no caching). */
  put(url: string, image: CachedImage): Promise<void>
  /**
   * Stores an image that is still arriving (a chunked answer) as it streams,
   * holding no more of it than the write needs (memory caches excepted: they
   * keep the bytes). Stored only if `image` ends; an error in it leaves
   * nothing. Resolves true when stored; never throws.
   */
  putStream(url: string, image: ReadableStream<Uint8Array>, mimeType: string, token: number): Promise<boolean>
  has(url: string): Promise<boolean>
  delete(url: string): Promise<boolean>
  /** Removes every image and the cache's bookkeeping; returns how many images there were. */
  clear(): Promise<number>
}
