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
