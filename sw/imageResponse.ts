import { VERSION_PARAM } from '../protocol/record'
import { TOKEN_HEADER } from '../protocol/wire'

/**
 * A decrypted image as the page and Cache Storage get it. The token (not
 * secret) rides along so a cached copy can be checked against the record;
 * key, iv, tag and proof never go into a response.
 */
export function imageResponse(image: Uint8Array<ArrayBuffer>, mimeType: string, token: number): Response {
  return new Response(image, {
    status: 200,
    headers: {
      'Content-Type': mimeType,
      'Content-Length': String(image.byteLength),
      [TOKEN_HEADER]: String(token),
    },
  })
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
 * The response handed to the page. Only a URL that names the version served
 * may be reused by the browser; an unversioned URL (`/pixstore-image/ID`)
 * must come back to the worker every time, or an updated image would show stale.
 */
export function pageImageResponse(response: Response, requestUrl: string, token: number): Response {
  const versioned = new URL(requestUrl).searchParams.get(VERSION_PARAM) === String(token)
  const headers = new Headers(response.headers)
  headers.set('Cache-Control', versioned ? `private, max-age=${BROWSER_MEMORY_SECONDS}` : 'no-cache')
  return new Response(response.body, { status: 200, headers })
}
