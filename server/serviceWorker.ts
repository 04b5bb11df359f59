import { DEFAULT_SERVICE_WORKER_URL } from '../protocol/defaults'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Middleware } from 'koa'

export interface ServiceWorkerOptions {
  /** URL path the page registers. */
  path?: string
  /** The built worker; found next to the package's dist/ by default. */
  file?: string
}

/** Built worker, seen from dist/server/ (the package) and from server/ (this repo's sources). */
const CANDIDATES = ['../pixstore-sw.js', '../dist/pixstore-sw.js'].map((relative) => fileURLToPath(new URL(relative, import.meta.url)))

/**
 * Serves the Pixstore service worker for apps whose pages Koa serves.
 * `no-cache` makes browsers revalidate it, so a new worker version is picked up.
 */
export function pixstoreServiceWorker({ path = DEFAULT_SERVICE_WORKER_URL, file }: ServiceWorkerOptions = {}): Middleware {
  const workerFile = file ?? CANDIDATES.find((candidate) => existsSync(candidate))
  if (!workerFile) throw new Error(`Pixstore service worker not found (looked at ${CANDIDATES.join(', ')}); run the build first`)
  let script: Promise<Buffer> | undefined
  return async (ctx, next) => {
    if (ctx.path !== path || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next()
    script ??= readFile(workerFile)
    ctx.type = 'text/javascript'
    ctx.set('Cache-Control', 'no-cache')
    ctx.body = await script
  }
}
