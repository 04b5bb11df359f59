import type { Middleware } from 'koa'
import { PROOF_HEADER, TOKEN_HEADER } from '../protocol/wire'

export const ALLOWED_METHODS = 'GET, OPTIONS'
export const ALLOWED_HEADERS = `${PROOF_HEADER}, ${TOKEN_HEADER}`

/**
 * CORS for the image route only, so mounting Pixstore into an app never
 * changes the app's own routes. Headers are set before the route runs, so
 * every answer (including errors) carries them.
 */
export function pixstoreCors(allowOrigin: string | string[]): Middleware {
  return async (ctx, next) => {
    if (allowOrigin === '*') {
      ctx.set('Access-Control-Allow-Origin', '*')
    } else {
      const allowed = Array.isArray(allowOrigin) ? allowOrigin : [allowOrigin]
      const origin = ctx.get('Origin')
      ctx.vary('Origin')
      if (allowed.includes(origin)) ctx.set('Access-Control-Allow-Origin', origin)
    }
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
