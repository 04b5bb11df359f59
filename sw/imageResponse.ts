import { VERSION_PARAM } from '../protocol/record'
import { TOKEN_HEADER } from '../protocol/wire'

/**
 * A decrypted image as the page and Cache Storage get it. The token (not
 * secret) rides along so a cached copy can be checked against the record;
 * key, iv, tag and proof never go into a response. The body is the bytes
 * themselves, which the browser hands to the page in one piece (a body
 * wrapped in a stream would be pumped through the worker chunk by chunk).
 */
export function imageResponse(image: Uint8Array<ArrayBuffer> | Blob, mimeType: string, token: number, cacheControl?: string): Response {
  const headers: Record<string, string> = {
    'Content-Type': mimeType,
    'Content-Length': String(image instanceof Blob ? image.size : image.byteLength),
    [TOKEN_HEADER]: String(token),
  }
  if (cacheControl) headers['Cache-Control'] = cacheControl
  return new Response(image, { status: 200, headers })
}

/**
 * A decrypted image whose bytes are still arriving (a chunked answer): the
 * browser renders what the stream has passed so far, and the `<img>` fires
 * `error` when the stream errors. Same headers as imageResponse; no
 * Content-Length when the answer's length was not known.
 */
export function streamedImageResponse(image: ReadableStream<Uint8Array>, length: number | null, mimeType: string, token: number, cacheControl: string): Response {
  const headers: Record<string, string> = { 'Content-Type': mimeType, [TOKEN_HEADER]: String(token), 'Cache-Control': cacheControl }
  if (length !== null) headers['Content-Length'] = String(length)
  return new Response(image as ReadableStream<Uint8Array<ArrayBuffer>>, { status: 200, headers })
}

/**
 * How long the browser's in-memory cache may reuse a decrypted image for a
 * versioned URL (`?v=<token>`, what imageUrl() gives) without asking the
 * worker again: a reload then shows it as fast as a plain cached image.
 * Memory only (a service worker's responses never enter the HTTP disk
 * cache), and short, because clearImageCache() cannot reach that memory.
 */
export const BROWSER_MEMORY_SECONDS = 300

/**
 * The Cache-Control of an image handed to the page. Only a URL that names the
 * version served may be reused by the browser; an unversioned URL
 * (`/pixstore-image/ID`) must come back to the worker every time, or an
 * updated image would show stale.
 */
export function pageCacheControl(requestUrl: string, token: number): string {
  const versioned = new URL(requestUrl).searchParams.get(VERSION_PARAM) === String(token)
  return versioned ? `private, max-age=${BROWSER_MEMORY_SECONDS}` : 'no-cache'
}

/**
 * A cached image (from memory or Cache Storage) as the page gets it. A Cache
 * Storage body is a blob: taking it is a handle, not a copy.
 */
export async function pageImageResponse(cached: Response, requestUrl: string, token: number): Promise<Response> {
  const mimeType = cached.headers.get('Content-Type') ?? 'application/octet-stream'
  return imageResponse(await cached.blob(), mimeType, token, pageCacheControl(requestUrl, token))
}
