import { createServer, type Server } from 'node:http'
import Koa from 'koa'
import { PixstoreBackend, type PixstoreBackendOptions } from '../server/backend'
import type { PixstoreConfig } from '../server/config'
import { createDefaultEndpointServer } from '../server/http/defaultServer'
import { pixstoreMiddleware } from '../server/http/koaMiddleware'
import { serve, testConfigFor, type StoreKind } from './testSupport'

export interface BackendOnPortOptions {
  /** The store under the backend; SQLite unless said. */
  kind?: StoreKind
  /** `default`: the server initPixstoreBackend starts (direct listener); `koa`: pixstoreMiddleware mounted in a host Koa app of its own, on a plain server. */
  served?: 'default' | 'koa'
  backendOptions?: PixstoreBackendOptions
}

/**
 * One backend on a real free port over a fresh store, for one describe block:
 * `before(env.start)`, `after(env.stop)`. Backend, config and server exist once started.
 */
export function backendOnPort(overrides: Partial<PixstoreConfig> = {}, { kind = 'sqlite', served = 'default', backendOptions = {} }: BackendOnPortOptions = {}) {
  let listening: Awaited<ReturnType<typeof serve>> | null = null
  let cleanup = () => {}
  const env = {
    backend: null as unknown as PixstoreBackend,
    config: {} as Partial<PixstoreConfig>,
    server: null as unknown as Server,
    get url(): string {
      if (!listening) throw new Error('backendOnPort: start() first')
      return listening.url
    },
    start: async () => {
      const test = await testConfigFor(kind, overrides)
      cleanup = test.cleanup
      env.config = test.config
      env.backend = new PixstoreBackend(test.config, backendOptions)
      await env.backend.open()
      env.server = served === 'default' ? createDefaultEndpointServer(env.backend) : createServer(hostApp(env.backend).callback())
      listening = await serve({ listen: (port, host) => env.server.listen(port, host) })
    },
    stop: async () => {
      await listening?.close()
      await env.backend?.close()
      cleanup()
    },
  }
  return env
}

/** A host app as users write one: their own Koa app with pixstoreMiddleware mounted beside their own routes. */
export function hostApp(backend: PixstoreBackend): Koa {
  const app = new Koa()
  app.use(pixstoreMiddleware(backend))
  app.use((ctx) => {
    ctx.body = 'the host app'
  })
  return app
}
