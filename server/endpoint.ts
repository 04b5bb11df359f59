import Router from '@koa/router'
import Koa, { type Middleware } from 'koa'
import compose from 'koa-compose'
import { isValidImageId, MAX_IMAGE_ID_LENGTH } from '../protocol/record'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PixstoreState, PROOF_HEADER, PROOF_PARAM, TOKEN_HEADER, TOKEN_PARAM } from '../protocol/wire'
import type { WireAnswer } from './backend'
import type { PixstoreBackend } from './backend'
import { ALLOWED_METHODS, pixstoreCors } from './cors'


/**
 * `GET {route}/:id` → wire payload. Anything under the route that is not a
 * valid id gets HTTP 400, and nothing here can throw past its own handler.
 */
export function createPixstoreRouter(backend: PixstoreBackend): Router {
  const route = backend.config.defaultEndpointRoute
  const router = new Router()
  const badRequest = (ctx: Koa.Context, message: string) => {
    ctx.status = 400
    ctx.type = 'text/plain'
    ctx.body = message
  }
  const invalidId = `Invalid image id: use at most ${MAX_IMAGE_ID_LENGTH} characters of [A-Za-z0-9_-] with an optional "dir:" prefix\n`
  router.get(`${route}/:id`, async (ctx) => {
    const id = ctx.params.id ?? ''
    if (!isValidImageId(id)) return badRequest(ctx, invalidId)
    const credentials = requestCredentials(ctx)
    const answer = credentials
      ? await backend.answerRequest(id, credentials.token, credentials.proof)
      : { head: Uint8Array.of(PixstoreState.InvalidProof), body: null, length: 1 }
    sendWireAnswer(ctx, answer)
  })
  router.get([route, `${route}/`], (ctx) => badRequest(ctx, `Missing image id: request ${route}/<id>\n`))
  router.get(`${route}/*rest`, (ctx) => badRequest(ctx, invalidId))
  return router
}

/**
 * Proof and token from the headers (Pixstore 3.x clients) or the query (no
 * preflight). Null when both forms are given and disagree: that is no proof.
 */
function requestCredentials(ctx: Koa.Context): { proof: string; token: string } | null {
  const headerProof = ctx.get(PROOF_HEADER)
  const headerToken = ctx.get(TOKEN_HEADER)
  if (!ctx.querystring) return { proof: headerProof, token: headerToken }
  const query = new URLSearchParams(ctx.querystring)
  const queryProof = query.get(PROOF_PARAM) ?? ''
  const queryToken = query.get(TOKEN_PARAM) ?? ''
  if ((headerProof && queryProof && headerProof !== queryProof) || (headerToken && queryToken && headerToken !== queryToken)) return null
  return { proof: headerProof || queryProof, token: headerToken || queryToken }
}

/**
 * Writes head and ciphertext straight to the socket (Koa steps aside): no
 * concatenated copy, and a streamed ciphertext keeps memory per request bounded.
 */
function sendWireAnswer(ctx: Koa.Context, answer: WireAnswer): void {
  ctx.respond = false
  const { res } = ctx
  res.statusCode = 200
  res.setHeader('Content-Type', 'application/octet-stream')
  res.setHeader('Content-Length', answer.length)
  res.setHeader('Cache-Control', 'no-store')
  const { body } = answer
  if (ctx.method === 'HEAD') {
    if (body instanceof Readable) body.destroy()
    res.end()
  } else if (body instanceof Readable) {
    res.write(answer.head)
    pipeline(body, res).catch(() => res.destroy()) // a client that goes away mid-stream
  } else {
    res.cork()
    res.write(answer.head)
    res.end(body ?? undefined)
    res.uncork()
  }
}

/** Everything Pixstore answers, for `app.use(pixstoreMiddleware(backend))` in an existing Koa app. */
export function pixstoreMiddleware(backend: PixstoreBackend): Middleware {
  const route = backend.config.defaultEndpointRoute
  const router = createPixstoreRouter(backend)
  const ours = compose([noReferrer, pixstoreCors(backend.config.accessControlAllowOrigin), router.routes() as Middleware, methodNotAllowed])
  return (ctx, next) => (ctx.path === route || ctx.path.startsWith(`${route}/`) ? ours(ctx, next) : next())
}

/** The app the default endpoint runs: only Pixstore's routes. */
export function createPixstoreApp(backend: PixstoreBackend): Koa {
  const app = new Koa()
  app.on('error', (error: Error & { status?: number }) => {
    if ((error.status ?? 500) >= 500) console.error('[pixstore] request failed:', error)
  })
  app.use(pixstoreMiddleware(backend))
  return app
}

/** A proof may ride in the URL: never pass that URL on as a Referer. */
const noReferrer: Middleware = async (ctx, next) => {
  ctx.set('Referrer-Policy', 'no-referrer')
  await next()
}

const methodNotAllowed: Middleware = async (ctx, next) => {
  await next()
  if (ctx.status === 404 && ctx.body == null && !['GET', 'HEAD'].includes(ctx.method)) {
    ctx.status = 405
    ctx.set('Allow', ALLOWED_METHODS)
    ctx.type = 'text/plain'
    ctx.body = `Method ${ctx.method} not allowed: use ${ALLOWED_METHODS}\n`
  }
}
