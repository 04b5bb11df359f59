/**
 * A slow network between the browser and a server, on a real free port: an
 * HTTP proxy that passes status and headers unchanged (CORS included) and
 * meters response bodies. Browser throttling does not reach a service
 * worker's fetches; this does, for the worker and a plain `<img>` alike.
 *
 * Two ways to slow it, one per use:
 * - `bytesPerSecond` and `latencyMs` (the bench): every answer's head waits
 *   `latencyMs`, its body leaves at the rate, per connection, a segment
 *   (SEGMENT_BYTES) at a time.
 * - `holdAt(n)` (tests, deterministic): the answers whose path `matches` stop
 *   after `n` body bytes in total until `release()`; `held()` resolves when
 *   they got there. No timer decides anything.
 *
 * And two ways to tamper with an answer, as an attacker on the path would:
 * `corruptAt` flips one bit as the body passes; `rewriteBody` reads a whole
 * answer and sends another body in its place, a well-formed HTTP answer
 * (Content-Length of the new body), so a reader cannot tell it from the server's.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface PacingOptions {
  /** The server behind the proxy, e.g. http://127.0.0.1:8080. */
  target: string
  /** Body bytes per second per answer; unlimited when absent. */
  bytesPerSecond?: number
  /** Added before every answer's head (the round trip of a request). */
  latencyMs?: number
}

export interface PacingProxy {
  origin: string
  port: number
  /** Answers whose path `matches` pass `limit` body bytes (counted over them all since the first hold), then wait for `release()` or a higher limit. */
  holdAt(limit: number, matches: (path: string) => boolean): void
  /** Resolves once the held answers have passed exactly the limit (and wait). */
  held(): Promise<void>
  /** Lets everything through from now on (`passed` still counts). */
  release(): void
  /** From now on, flips one bit of body byte `offset` of every answer whose path `matches` (an attacker on the path); null stops it. */
  corruptAt(offset: number | null, matches?: (path: string) => boolean): void
  /**
   * From now on, every answer whose path `matches` is read whole from the
   * server and `rewrite(body)` goes out instead, status and headers kept but
   * Content-Length set to the new body's length (hold, pace and corruptAt
   * still apply to it); null stops it. A `rewrite` that throws or rejects ends that
   * answer without a body and logs its message in `answers` (`error`).
   */
  rewriteBody(rewrite: ((body: Buffer) => Uint8Array | Promise<Uint8Array>) | null, matches?: (path: string) => boolean): void
  /**
   * Every answer passed on: its path, method, when its request arrived (epoch
   * ms), the first byte of the body sent (a Pixstore answer's state) once
   * known, `rewritten` when rewriteBody replaced it, and how it ended once it
   * did: `finished` (all of it passed), or `closed` by the client before its
   * end (a reader that cancelled it).
   */
  readonly answers: ProxiedAnswer[]
  /** Body bytes that left the proxy for answers whose path matches the current hold. */
  readonly passed: number
  /** Body bytes that left the proxy since it started, every answer counted (what the browser had been sent at a moment). */
  readonly sent: number
  close(): Promise<void>
}

export interface ProxiedAnswer {
  path: string
  method: string
  /** Date.now() when the request reached the proxy. */
  requestedAt: number
  firstByte?: number
  rewritten?: true
  /** Why rewriteBody's function failed (the answer was cut off). */
  error?: string
  end?: 'finished' | 'closed'
}

/** Pieces an unpaced body is cut into (holds and corruptAt still count every byte). */
const PIECE_BYTES = 16 * 1024
/**
 * Pieces a paced body is cut into: one TCP segment's payload (Ethernet MSS),
 * each sent when the rate says it has arrived, as a link delivers them. 16 KiB
 * bursts (what this proxy sent before) were no link: a reader of 16 KiB records
 * (a chunked answer) waited a whole burst for every record's 17-byte tail, and
 * a plain image got its first 16 KiB at once where a 10 Mbit/s link takes 13 ms.
 */
export const SEGMENT_BYTES = 1460

export async function startPacingProxy(options: PacingOptions): Promise<PacingProxy> {
  const target = new URL(options.target)
  /** The answers the hold meters, and how far they may go (Infinity once released). */
  let hold: { limit: number; matches: (path: string) => boolean } | null = null
  let passed = 0
  let sent = 0
  const answers: ProxiedAnswer[] = []
  let corrupt: { offset: number; matches: (path: string) => boolean } | null = null
  let rewriting: { rewrite: (body: Buffer) => Uint8Array | Promise<Uint8Array>; matches: (path: string) => boolean } | null = null
  let reachedWaiters: (() => void)[] = []
  let releaseWaiters: (() => void)[] = []

  const holding = (path: string) => hold !== null && hold.matches(path)
  const notifyHeld = () => {
    for (const resolve of reachedWaiters) resolve()
    reachedWaiters = []
  }

  /** Sends `bytes`, waiting out the hold and the rate; returns when they were handed to the socket. */
  async function send(response: http.ServerResponse, path: string, bytes: Uint8Array, clock: { start: number; sent: number }): Promise<void> {
    for (let at = 0; at < bytes.length; ) {
      // The client went away (while held, say): nothing more is sent or counted.
      if (response.destroyed) throw new Error('the client closed the answer')
      let room = Math.min(options.bytesPerSecond ? SEGMENT_BYTES : PIECE_BYTES, bytes.length - at)
      if (holding(path)) {
        const left = hold!.limit - passed
        if (left <= 0) {
          notifyHeld()
          await new Promise<void>((resolve) => releaseWaiters.push(resolve))
          continue
        }
        room = Math.min(room, left)
      }
      if (options.bytesPerSecond) {
        const due = clock.start + (clock.sent * 1000) / options.bytesPerSecond
        const wait = due - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      }
      let piece = bytes.subarray(at, at + room)
      if (corrupt && corrupt.matches(path) && corrupt.offset >= clock.sent && corrupt.offset < clock.sent + piece.length) {
        piece = Uint8Array.from(piece)
        piece[corrupt.offset - clock.sent]! ^= 0x01
      }
      if (holding(path)) passed += piece.length
      sent += piece.length
      clock.sent += piece.length
      at += room
      if (!response.write(piece)) await new Promise<void>((resolve) => response.once('drain', resolve))
      if (holding(path) && passed >= hold!.limit) notifyHeld()
    }
  }

  const server = http.createServer((request, response) => {
    const requestedAt = Date.now()
    const path = new URL(request.url ?? '/', 'http://x').pathname
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: { ...request.headers, host: target.host } },
      async (answer) => {
        const logged: ProxiedAnswer = { path, method: request.method ?? 'GET', requestedAt }
        answers.push(logged)
        let headers = answer.headers
        let body: AsyncIterable<Uint8Array> | Uint8Array[] = answer
        const rewrite = rewriting?.matches(path) ? rewriting.rewrite : null
        if (rewrite) {
          try {
            const chunks: Buffer[] = []
            for await (const chunk of answer) chunks.push(chunk as Buffer)
            const rewritten = await rewrite(Buffer.concat(chunks))
            headers = { ...answer.headers, 'content-length': String(rewritten.length) }
            delete headers['transfer-encoding']
            body = [rewritten]
            logged.rewritten = true
          } catch (error) {
            logged.error = error instanceof Error ? error.message : String(error)
            response.destroy()
            return
          }
        }
        if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs))
        response.writeHead(answer.statusCode ?? 502, headers)
        response.flushHeaders()
        const clock = { start: performance.now(), sent: 0 }
        response.on('close', () => (logged.end = response.writableFinished ? 'finished' : 'closed'))
        try {
          for await (const chunk of body) {
            if (logged.firstByte === undefined && chunk.length > 0) logged.firstByte = chunk[0]
            await send(response, path, chunk, clock)
          }
          response.end()
        } catch {
          response.destroy()
        }
      },
    )
    upstream.on('error', () => (response.headersSent ? response.destroy() : response.writeHead(502).end()))
    // The browser went away (or cancelled): so does the upstream answer.
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy()
    })
    request.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    holdAt(limit, matches) {
      hold = { limit, matches }
      for (const resolve of releaseWaiters) resolve()
      releaseWaiters = []
    },
    held: () => new Promise<void>((resolve) => (hold && passed >= hold.limit ? resolve() : reachedWaiters.push(resolve))),
    release() {
      if (hold) hold.limit = Infinity
      for (const resolve of releaseWaiters) resolve()
      releaseWaiters = []
    },
    answers,
    corruptAt(offset, matches = () => true) {
      corrupt = offset === null ? null : { offset, matches }
    },
    rewriteBody(rewrite, matches = () => true) {
      rewriting = rewrite === null ? null : { rewrite, matches }
    },
    get passed() {
      return passed
    },
    get sent() {
      return sent
    },
    close: () =>
      new Promise<void>((resolve) => {
        hold = null
        for (const resolve of releaseWaiters) resolve()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
