import Router from '@koa/router'
import Koa, { type Middleware } from 'koa'
import compose from 'koa-compose'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { isValidImageId, MAX_IMAGE_ID_LENGTH } from '../protocol/record'
import type { PixstoreBackend } from './backend'
import { ALLOWED_METHODS, pixstoreCors } from './cors'
import { answerImageRequest, defaultEndpointListener } from './imageRequest'

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
    ctx.respond = false // written straight to the socket, see answerImageRequest
    await answerImageRequest(backend, ctx.req, ctx.res, id, ctx.querystring)
  })
  router.get([route, `${route}/`], (ctx) => badRequest(ctx, `Missing image id: request ${route}/<id>\n`))
  router.get(`${route}/*rest`, (ctx) => badRequest(ctx, invalidId))
  return router
}

/** Everything Pixstore answers, for `app.use(pixstoreMiddleware(backend))` in an existing Koa app. */
export function pixstoreMiddleware(backend: PixstoreBackend): Middleware {
  const route = backend.config.defaultEndpointRoute
  const router = createPixstoreRouter(backend)
  const ours = compose([noReferrer, pixstoreCors(backend.config.accessControlAllowOrigin), router.routes() as Middleware, methodNotAllowed])
  return (ctx, next) => (isUnderRoute(ctx.path, route) ? ours(ctx, next) : next())
}

/**
 * Node's defaults suit a general web server, not an image endpoint: a client
 * that sends a request head slowly (or never) held its connection up to 60 s,
 * checked every 30 s, so 1,100 half-open connections kept a 1,024-descriptor
 * process from answering anyone for ~90 s. An image GET is one short head and
 * no body: 10 s for it is generous, checked every second.
 */
export const ENDPOINT_SERVER_OPTIONS = {
  headersTimeout: 10_000,
  requestTimeout: 10_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
} as const

/** The server `initPixstoreBackend` (and so `pixstore serve`, each of its workers) starts: image GETs on the direct path (see defaultEndpointListener), everything else through createPixstoreApp. */
export function createDefaultEndpointServer(backend: PixstoreBackend): Server {
  const server = createServer(ENDPOINT_SERVER_OPTIONS, defaultEndpointListener(backend, createPixstoreApp(backend).callback()))
  const { maxConnections, responseTimeout } = backend.config
  // Beyond it, Node closes a new connection at once: descriptors stay for the files being served.
  server.maxConnections = maxConnections === 'auto' ? autoMaxConnections() : maxConnections
  // A socket that moves no byte either way for this long is closed (answers also set it themselves).
  server.timeout = responseTimeout
  return server
}

/**
 * `maxConnections: 'auto'`: half of what the process's descriptor limit leaves
 * after a reserve (database, logs, workers), since a connection serving a
 * streamed image holds two (socket and file). 1,024 descriptors give 480.
 */
export function autoMaxConnections(limits = readOpenFileLimit()): number {
  return Math.min(65_536, Math.max(16, Math.floor((limits - 64) / 2)))
}

/** The soft RLIMIT_NOFILE (Linux: /proc/self/limits); 1024, the usual default, where it cannot be read. */
function readOpenFileLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (line?.[1] === 'unlimited') return 1_048_576
    if (line?.[1]) return Number(line[1])
  } catch {
    // not Linux
  }
  return 1024
}

/** The app the default endpoint runs: only Pixstore's routes. */
export function createPixstoreApp(backend: PixstoreBackend): Koa {
  const app = new Koa()
  app.on('error', (error: Error & { status?: number; code?: string }) => {
    if (!isClientFault(error)) console.error('[pixstore] request failed:', error)
  })
  app.use(pixstoreMiddleware(backend))
  const route = backend.config.defaultEndpointRoute
  const outside = compose([pixstoreCors(backend.config.accessControlAllowOrigin), notPixstoreRoute(route)])
  app.use((ctx, next) => (isUnderRoute(ctx.path, route) ? next() : outside(ctx, next)))
  return app
}

const isUnderRoute = (path: string, route: string) => path === route || path.startsWith(`${route}/`)

/**
 * Anything outside the route: a 404 with the CORS headers (and a preflight
 * answered), so a page whose worker asks the wrong route can read the answer
 * and say "wrong route" instead of "backend unreachable".
 */
function notPixstoreRoute(route: string): Middleware {
  return (ctx) => {
    ctx.status = 404
    ctx.type = 'text/plain'
    ctx.body = `Not found: this Pixstore endpoint serves ${route}/<id>\n`
  }
}

/** Node's HTTP parser codes start with HPE_; the others are a client hanging up mid-response. */
const CLIENT_FAULT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ECANCELED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED'])

/** A malformed or abandoned request: the client's doing, so logging it would let any client fill the log. */
function isClientFault(error: { status?: number; code?: string }): boolean {
  if (error.status !== undefined && error.status < 500) return true
  return typeof error.code === 'string' && (error.code.startsWith('HPE_') || CLIENT_FAULT_CODES.has(error.code))
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
