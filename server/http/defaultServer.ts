import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { PixstoreBackend } from '../backend'
import { defaultEndpointListener } from './directListener'
import { createPixstoreApp } from './koaMiddleware'

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

/** The server `initPixstoreBackend` (and so `pixstore serve`, each of its workers) starts: requests under the route on the direct listener, everything else through createPixstoreApp; both run the one image policy. */
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
