import type { Middleware } from 'koa'
import { CHUNKED_HEADER, PROOF_HEADER, TOKEN_HEADER } from '../protocol/wire'

export const ALLOWED_METHODS = 'GET, OPTIONS'
export const ALLOWED_HEADERS = `${PROOF_HEADER}, ${TOKEN_HEADER}, ${CHUNKED_HEADER}`

/**
 * CORS for the image route only, so mounting Pixstore into an app never
 * changes the app's own routes. Headers are set before the route runs, so
 * every answer (including errors) carries them.
 */
export function pixstoreCors(allowOrigin: string | string[]): Middleware {
  return async (ctx, next) => {
    if (allowOrigin !== '*') ctx.vary('Origin')
    const origin = allowedOrigin(allowOrigin, ctx.get('Origin'))
    if (origin) ctx.set('Access-Control-Allow-Origin', origin)
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', ALLOWED_METHODS)
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS)
      ctx.set('Access-Control-Max-Age', '600')
      ctx.set('Allow', ALLOWED_METHODS)
      ctx.status = 204
      return
    }
    await next()
  }
}

/** The Access-Control-Allow-Origin value for a request from `origin`, or null when that origin is not allowed. */
export function allowedOrigin(allowOrigin: string | string[], origin: string | undefined): string | null {
  if (allowOrigin === '*') return '*'
  const allowed = Array.isArray(allowOrigin) ? allowOrigin : [allowOrigin]
  return origin && allowed.includes(origin) ? origin : null
}
