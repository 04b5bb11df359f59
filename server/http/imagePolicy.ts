import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { isValidImageId, MAX_IMAGE_ID_LENGTH } from '../../protocol/record'
import { CHUNKED_HEADER, PROOF_HEADER, TOKEN_HEADER } from '../../protocol/wire'

/**
 * The one policy for a request under the image route, whichever entry it came
 * through (the default endpoint's direct listener or `pixstoreMiddleware` in a
 * Koa app): which headers every answer carries (CORS, `Vary`,
 * `Referrer-Policy`), how the URL names an id, which answer a request gets,
 * and which failures are worth a log line. The entries only write what it decides.
 */

export const ALLOWED_METHODS = 'GET, OPTIONS'
export const ALLOWED_HEADERS = `${PROOF_HEADER}, ${TOKEN_HEADER}, ${CHUNKED_HEADER}`

/** What the policy needs from the config. */
export interface ImagePolicyConfig {
  defaultEndpointRoute: string
  accessControlAllowOrigin: string | string[]
}

/** A request's answer: an image lookup, a fixed reply, or "not ours" (outside the route). */
export type ImageRequestDecision =
  | { kind: 'image'; id: string; querystring: string; headers: OutgoingHttpHeaders }
  | { kind: 'reply'; status: number; headers: OutgoingHttpHeaders; body: string | null }
  | { kind: 'outside' }

const invalidIdMessage = `Invalid image id: use at most ${MAX_IMAGE_ID_LENGTH} characters of [A-Za-z0-9_-] with an optional "dir:" prefix\n`

/**
 * Decides the answer to `method url` (the raw request target, as Node gives it).
 * A `#fragment` is no part of the target (a client should not send one; Koa's
 * parser drops it too), and the id is percent-decoded once, so `dir%3Aname`
 * names `dir:name` on both entries.
 */
export function decideImageRequest(config: ImagePolicyConfig, method: string, url: string, origin: string | undefined): ImageRequestDecision {
  const target = parseRequestTarget(url)
  const route = config.defaultEndpointRoute
  if (target.path !== route && !target.path.startsWith(`${route}/`)) return { kind: 'outside' }
  const headers = { 'Referrer-Policy': 'no-referrer', ...corsHeaders(config.accessControlAllowOrigin, origin) }
  if (method === 'OPTIONS') return preflight(headers)
  if (method !== 'GET' && method !== 'HEAD') {
    return { kind: 'reply', status: 405, headers: { ...headers, Allow: ALLOWED_METHODS }, body: `Method ${method} not allowed: use ${ALLOWED_METHODS}\n` }
  }
  const rest = target.path.slice(route.length + 1)
  if (rest === '') return { kind: 'reply', status: 400, headers, body: `Missing image id: request ${route}/<id>\n` }
  const id = decodeId(rest)
  if (id === null) return { kind: 'reply', status: 400, headers, body: invalidIdMessage }
  return { kind: 'image', id, querystring: target.querystring, headers }
}

/**
 * A request outside the route, on the app the default endpoint runs: a 404
 * with the CORS headers (and a preflight answered), so a page whose worker
 * asks the wrong route can read the answer and say "wrong route" instead of
 * "backend unreachable". A host app's own routes never get this.
 */
export function decideOutsideRoute(config: ImagePolicyConfig, method: string, origin: string | undefined): ImageRequestDecision & { kind: 'reply' } {
  const headers = corsHeaders(config.accessControlAllowOrigin, origin)
  if (method === 'OPTIONS') return preflight(headers)
  return { kind: 'reply', status: 404, headers, body: `Not found: this Pixstore endpoint serves ${config.defaultEndpointRoute}/<id>\n` }
}

function preflight(headers: OutgoingHttpHeaders): ImageRequestDecision & { kind: 'reply' } {
  return {
    kind: 'reply',
    status: 204,
    headers: { ...headers, 'Access-Control-Allow-Methods': ALLOWED_METHODS, 'Access-Control-Allow-Headers': ALLOWED_HEADERS, 'Access-Control-Max-Age': '600', Allow: ALLOWED_METHODS },
    body: null,
  }
}

/** `Vary: Origin` whenever the answer depends on the origin; the allowed origin (or `*`) when it is one. */
export function corsHeaders(allowOrigin: string | string[], origin: string | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {}
  if (allowOrigin !== '*') headers.Vary = 'Origin'
  const allowed = allowedOrigin(allowOrigin, origin)
  if (allowed) headers['Access-Control-Allow-Origin'] = allowed
  return headers
}

/** The Access-Control-Allow-Origin value for a request from `origin`, or null when that origin is not allowed. */
export function allowedOrigin(allowOrigin: string | string[], origin: string | undefined): string | null {
  if (allowOrigin === '*') return '*'
  const allowed = Array.isArray(allowOrigin) ? allowOrigin : [allowOrigin]
  return origin && allowed.includes(origin) ? origin : null
}

/** Path and query of a request target, the fragment dropped. */
export function parseRequestTarget(url: string): { path: string; querystring: string } {
  const fragment = url.indexOf('#')
  const withoutFragment = fragment === -1 ? url : url.slice(0, fragment)
  const queryStart = withoutFragment.indexOf('?')
  if (queryStart === -1) return { path: withoutFragment, querystring: '' }
  return { path: withoutFragment.slice(0, queryStart), querystring: withoutFragment.slice(queryStart + 1) }
}

/** The id a path segment names (percent-decoded once), or null when it names none. */
function decodeId(segment: string): string | null {
  if (segment.includes('/')) return null
  let id = segment
  if (segment.includes('%')) {
    try {
      id = decodeURIComponent(segment)
    } catch {
      return null
    }
  }
  return isValidImageId(id) ? id : null
}

/** Sets the policy's headers on Node's response (Koa's `ctx.res` is the same object), appending to a `Vary` already there. */
export function setPolicyHeaders(res: ServerResponse, headers: OutgoingHttpHeaders): void {
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    if (name === 'Vary') {
      const existing = res.getHeader('Vary')
      const list = existing === undefined ? [] : String(existing).split(',').map((part) => part.trim())
      if (!list.some((part) => part.toLowerCase() === 'origin' || part === '*')) res.setHeader('Vary', [...list, String(value)].filter(Boolean).join(', '))
    } else {
      res.setHeader(name, value)
    }
  }
}

/** Writes a fixed reply of the policy to Node's response. */
export function writeReply(res: ServerResponse, reply: ImageRequestDecision & { kind: 'reply' }): void {
  res.statusCode = reply.status
  setPolicyHeaders(res, reply.headers)
  if (reply.body === null) return void res.end()
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(reply.body))
  res.end(reply.body)
}

/** Node's HTTP parser codes start with HPE_; the others are a client hanging up mid-response. */
const CLIENT_FAULT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ECANCELED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED'])

/** A malformed or abandoned request: the client's doing, so logging it would let any client fill the log. */
export function isClientFault(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { status, code } = error as { status?: unknown; code?: unknown }
  if (typeof status === 'number' && status < 500) return true
  return typeof code === 'string' && (code.startsWith('HPE_') || CLIENT_FAULT_CODES.has(code))
}

/**
 * The one logging rule for a request that failed past the backend's own
 * answer (which already turns store failures into the InternalError state and
 * logs an outage once): client faults are never logged, and server faults are
 * logged once per kind (code) until `REPEAT_AFTER` more of that kind were
 * counted, so no client can fill the log by repeating a request.
 */
export class RequestFailureLog {
  readonly #seen = new Map<string, number>()

  constructor(private readonly log: (message: string) => void = (message) => console.error(message)) {}

  report(error: unknown): void {
    if (isClientFault(error)) return
    const kind = (error as { code?: unknown } | null)?.code
    const key = typeof kind === 'string' ? kind : error instanceof Error ? error.name : 'unknown'
    const count = (this.#seen.get(key) ?? 0) + 1
    if (this.#seen.size < MAX_KINDS || this.#seen.has(key)) this.#seen.set(key, count)
    if (count === 1 || count % REPEAT_AFTER === 0) {
      const detail = error instanceof Error ? error.message : String(error)
      this.log(`[pixstore] request failed (${key}${count > 1 ? `, ${count} so far` : ''}): ${detail}`)
    }
  }
}

const REPEAT_AFTER = 10_000
const MAX_KINDS = 100
