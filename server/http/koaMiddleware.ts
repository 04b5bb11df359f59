import Router from '@koa/router'
import Koa, { type Context, type Middleware } from 'koa'
import type { PixstoreBackend } from '../backend'
import { answerImageRequest, failureLogOf } from './imageAnswer'
import { decideImageRequest, decideOutsideRoute, isClientFault, type ImageRequestDecision } from './imagePolicy'

/**
 * Everything Pixstore answers, for `app.use(pixstoreMiddleware(backend))` in an
 * existing Koa app: requests under the route get the image policy's answer
 * (the same as on the default endpoint's direct listener); every other
 * request passes on untouched, so mounting Pixstore never changes the app's own routes.
 */
export function pixstoreMiddleware(backend: PixstoreBackend): Middleware {
  return async (ctx, next) => {
    const decision = decideImageRequest(backend.config, ctx.method, ctx.url, ctx.get('Origin') || undefined)
    if (decision.kind === 'outside') return next()
    if (decision.kind === 'reply') return reply(ctx, decision)
    ctx.respond = false // written straight to the socket, see answerImageRequest
    keepClientFaultsOutOfHostLog(ctx)
    await answerImageRequest(backend, ctx.req, ctx.res, decision)
  }
}

/** The same middleware as a router, for apps that compose routers: `app.use(createPixstoreRouter(backend).routes())`. */
export function createPixstoreRouter(backend: PixstoreBackend): Router {
  const route = backend.config.defaultEndpointRoute
  const router = new Router()
  router.all([route, `${route}/`, `${route}/*rest`], pixstoreMiddleware(backend))
  return router
}

/** The app the default endpoint runs: Pixstore's route, and a CORS 404 for every other path. */
export function createPixstoreApp(backend: PixstoreBackend): Koa {
  const app = new Koa()
  const failures = failureLogOf(backend)
  app.on('error', (error: unknown) => failures.report(error))
  app.use(pixstoreMiddleware(backend))
  app.use((ctx) => reply(ctx, decideOutsideRoute(backend.config, ctx.method, ctx.get('Origin') || undefined)))
  return app
}

/** A fixed reply of the policy through Koa, so the host app's own middleware still sees status and body. */
function reply(ctx: Context, decision: ImageRequestDecision & { kind: 'reply' }): void {
  for (const [name, value] of Object.entries(decision.headers)) {
    if (value === undefined) continue
    if (name === 'Vary') ctx.vary(String(value))
    else ctx.set(name, String(value))
  }
  ctx.status = decision.status
  if (decision.body !== null) {
    ctx.type = 'text/plain'
    ctx.body = decision.body
  }
}

/**
 * The policy's logging rule inside a host app: a client that breaks the
 * connection while Pixstore answers (a malformed body, a reset) is no server
 * fault, but Koa reports every socket error to the host app's error handler,
 * whose default logs a stack. Marking it `expose` (a client error, in Koa's
 * terms) keeps it out of the default log; a host handler still sees it.
 */
function keepClientFaultsOutOfHostLog(ctx: Context): void {
  const socket = ctx.req.socket
  const mark = (error: unknown) => {
    if (isClientFault(error)) Object.assign(error as object, { expose: true })
  }
  socket.prependListener('error', mark)
  ctx.res.once('close', () => socket.off('error', mark))
}
