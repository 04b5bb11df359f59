import type { RequestListener } from 'node:http'
import type { PixstoreBackend } from '../backend'
import { answerImageRequest } from './imageAnswer'
import { decideImageRequest, writeReply } from './imagePolicy'

/**
 * The default endpoint's request listener. A profile of the endpoint under
 * load showed Koa's per-request context and middleware chain as a cost the
 * image GET does not need, so every request under the route is decided by the
 * image policy and written here on Node's own objects; only requests outside
 * the route take the Koa app (`createPixstoreApp`), whose middleware runs the
 * same policy.
 */
export function defaultEndpointListener(backend: PixstoreBackend, koaListener: RequestListener): RequestListener {
  const config = backend.config
  return (req, res) => {
    const decision = decideImageRequest(config, req.method ?? 'GET', req.url ?? '', req.headers.origin)
    if (decision.kind === 'outside') return koaListener(req, res)
    if (decision.kind === 'reply') return writeReply(res, decision)
    void answerImageRequest(backend, req, res, decision)
  }
}
