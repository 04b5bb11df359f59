/**
 * A transparent HTTP proxy on a real free port in front of a backend, for
 * tests that must see or hold what the browser sends: every request is
 * logged (method, path, where the proof rode; never the proof), and a
 * request can be held until the test releases it (a fetch "in flight").
 * Status, headers and body pass through unchanged, CORS headers included.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ProxiedRequest {
  method: string
  path: string
  proofIn: 'query' | 'header' | 'none'
}

export interface HeldRequest {
  /** Resolves once a matching request has arrived (and is being held). */
  arrived: Promise<void>
  /** Lets every held request through. */
  release(): void
}

export interface PassThroughProxy {
  origin: string
  port: number
  requests: ProxiedRequest[]
  /** Holds the requests whose path `matches` until `release()`. */
  hold(matches: (path: string) => boolean): HeldRequest
  close(): Promise<void>
}

export async function startPassThroughProxy(targetOrigin: string): Promise<PassThroughProxy> {
  const target = new URL(targetOrigin)
  const requests: ProxiedRequest[] = []
  const holds: { matches: (path: string) => boolean; arrive: () => void; gate: Promise<void> }[] = []
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy')
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      proofIn: url.searchParams.has('pixstore-proof') ? 'query' : req.headers['x-pixstore-proof'] ? 'header' : 'none',
    })
    for (const hold of holds.filter((h) => h.matches(url.pathname))) {
      hold.arrive()
      await hold.gate
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    hold(matches) {
      let arrive!: () => void
      let release!: () => void
      const arrived = new Promise<void>((resolve) => (arrive = resolve))
      const gate = new Promise<void>((resolve) => (release = resolve))
      holds.push({ matches, arrive, gate })
      return { arrived, release }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
