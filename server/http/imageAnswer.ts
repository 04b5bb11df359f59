import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { acceptsChunked, CHUNKED_HEADER, CHUNKED_PARAM, PixstoreState, PROOF_HEADER, PROOF_PARAM, TOKEN_HEADER, TOKEN_PARAM } from '../../protocol/wire'
import type { PixstoreBackend, WireAnswer } from '../backend'
import { RequestFailureLog, setPolicyHeaders, type ImageRequestDecision } from './imagePolicy'

/**
 * Answers `GET {route}/{id}` on Node's request and response: proof check,
 * lookup, and head + ciphertext written straight to the socket (no joined
 * copy; a streamed ciphertext keeps memory per request bounded). The Koa
 * middleware and the default endpoint's direct listener both end here, with
 * the headers the policy decided; a failure follows the policy's logging rule.
 */
export async function answerImageRequest(
  backend: PixstoreBackend,
  req: IncomingMessage,
  res: ServerResponse,
  decision: ImageRequestDecision & { kind: 'image' },
): Promise<void> {
  try {
    setPolicyHeaders(res, decision.headers)
    await writeImageAnswer(backend, req, res, decision.id, decision.querystring)
  } catch (error) {
    failureLogOf(backend).report(error)
    res.destroy()
  }
}

const failureLogs = new WeakMap<PixstoreBackend, RequestFailureLog>()

/** One failure log per backend, whichever entry its requests came through. */
export function failureLogOf(backend: PixstoreBackend): RequestFailureLog {
  let log = failureLogs.get(backend)
  if (!log) failureLogs.set(backend, (log = new RequestFailureLog()))
  return log
}

async function writeImageAnswer(backend: PixstoreBackend, req: IncomingMessage, res: ServerResponse, id: string, querystring: string): Promise<void> {
  // A pipelined request waits for its turn before its answer is looked up, so a
  // connection holds one file or buffer at a time, however many GETs it queued.
  if (!res.socket && !(await turnOf(req, res))) return
  const credentials = requestCredentials(req.headers, querystring)
  const chunked = asksChunked(req.headers, querystring)
  const answer = credentials ? await backend.answerRequest(id, credentials.token, credentials.proof, { chunked }) : INVALID_PROOF
  const { body } = answer
  let released = false
  const release = () => {
    if (released) return
    released = true
    req.off('close', abandoned)
    if (body instanceof Readable) body.destroy()
    answer.release?.()
  }
  // Node tells a queued (pipelined) answer nothing when its socket closes: it
  // only destroys the request. Without this, its pipeline never settles and
  // its file stays open until garbage collection (DEP0137).
  const abandoned = () => {
    if (!res.writableFinished) {
      release()
      res.destroy()
    }
  }
  if (req.destroyed) return abandoned() // gone while the answer was looked up
  req.once('close', abandoned)
  res.once('close', release)
  // No progress (nothing the socket could send) for responseTimeout ends the
  // answer, so a client that never reads cannot hold its buffer or file for ever.
  res.setTimeout(backend.config.responseTimeout, () => res.destroy())
  res.statusCode = 200
  res.setHeader('Content-Type', 'application/octet-stream')
  res.setHeader('Content-Length', answer.length)
  res.setHeader('Cache-Control', 'no-store')
  // The answer's form depends on the header (the query parameter is in the URL already).
  const vary = res.getHeader('Vary')
  res.setHeader('Vary', vary ? `${vary}, ${CHUNKED_HEADER}` : CHUNKED_HEADER)
  if (req.method === 'HEAD') {
    release()
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

/** Resolves true once a queued response gets the socket, false if the connection closes first. */
function turnOf(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onSocket = () => {
      req.off('close', onClose)
      resolve(true)
    }
    const onClose = () => {
      res.off('socket', onSocket)
      resolve(false)
    }
    res.once('socket', onSocket)
    req.once('close', onClose)
  })
}

const INVALID_PROOF: WireAnswer = { head: Uint8Array.of(PixstoreState.InvalidProof), body: null, length: 1 }

/**
 * Proof and token from the headers (Pixstore 3.x clients) or the query (no
 * preflight). Null when both forms are given and disagree: that is no proof.
 */
export function requestCredentials(headers: IncomingHttpHeaders, querystring: string): { proof: string; token: string } | null {
  const headerProof = single(headers[PROOF_HEADER])
  const headerToken = single(headers[TOKEN_HEADER])
  if (!querystring) return { proof: headerProof, token: headerToken }
  const query = new URLSearchParams(querystring)
  const queryProof = query.get(PROOF_PARAM) ?? ''
  const queryToken = query.get(TOKEN_PARAM) ?? ''
  if ((headerProof && queryProof && headerProof !== queryProof) || (headerToken && queryToken && headerToken !== queryToken)) return null
  return { proof: headerProof || queryProof, token: headerToken || queryToken }
}

/** Whether the request asks for chunked answers: the header, or the parameter beside the proof. */
function asksChunked(headers: IncomingHttpHeaders, querystring: string): boolean {
  const header = headers[CHUNKED_HEADER]
  const param = querystring.includes(CHUNKED_PARAM) ? new URLSearchParams(querystring).getAll(CHUNKED_PARAM) : null
  return (header !== undefined || param !== null) && acceptsChunked({ header, param })
}

/** Node joins repeated custom headers with ", ": such a value is no valid proof or token, so it simply fails the check. */
const single = (value: string | string[] | undefined): string => (Array.isArray(value) ? value.join(', ') : (value ?? ''))
