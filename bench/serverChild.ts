// Child process: one bench server, either Pixstore's default endpoint
// (initPixstoreBackend, exactly as an application starts it) or a plain Koa
// static server that reads a file per request. Driven over IPC by serverProcess.ts.
import { readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import type { ChildCommand, ChildReply, ChildSample, StartMessage, StaticFile } from './serverProcess'

const requests: Record<string, number> = {}
let closeServer: (() => Promise<void>) | null = null

function countRequests(server: Server): void {
  server.on('request', (req) => {
    const segment = (req.url ?? '/').split('/')[1] ?? ''
    const key = `${req.method} /${segment}`
    requests[key] = (requests[key] ?? 0) + 1
  })
}

async function startPixstore(start: Extract<StartMessage, { mode: 'pixstore' }>): Promise<number> {
  const { initPixstoreBackend } = await import('../server/index')
  const handle = await initPixstoreBackend({
    defaultEndpointListenHost: '127.0.0.1',
    defaultEndpointListenPort: 0,
    statelessProofSecret: start.secret,
    statelessKeyWindowLength: start.windowMs,
    imageRootDir: start.imageRootDir,
    databasePath: start.databasePath,
  })
  if (!handle.server) throw new Error('initPixstoreBackend started no server')
  countRequests(handle.server)
  closeServer = handle.close
  return (handle.server.address() as AddressInfo).port
}

async function startPlain(files: Record<string, StaticFile>): Promise<number> {
  const app = new Koa()
  app.use(async (ctx, next) => {
    const file = Object.hasOwn(files, ctx.path) ? files[ctx.path] : undefined
    if (!file || ctx.method !== 'GET') return next()
    ctx.set('Cache-Control', file.cacheControl)
    ctx.set('Access-Control-Allow-Origin', '*')
    // Lets the bench page read this cross-origin image's Resource Timing.
    ctx.set('Timing-Allow-Origin', '*')
    ctx.type = file.contentType
    ctx.body = await readFile(file.path)
  })
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject))
  countRequests(server)
  closeServer = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return (server.address() as AddressInfo).port
}

function sample(gc: boolean): ChildSample {
  if (gc && globalThis.gc) {
    globalThis.gc()
    globalThis.gc()
  }
  const cpu = process.cpuUsage()
  return { memory: process.memoryUsage(), maxRss: process.resourceUsage().maxRSS * 1024, cpuMicros: cpu.user + cpu.system, requests: { ...requests } }
}

async function handle(command: ChildCommand): Promise<unknown> {
  switch (command.type) {
    case 'start':
      return command.start.mode === 'pixstore' ? startPixstore(command.start) : startPlain(command.start.files)
    case 'sample':
      return sample(command.gc)
    case 'close':
      await closeServer?.()
      setImmediate(() => process.exit(0))
      return null
  }
}

process.on('message', (message: ChildCommand & { id: number }) => {
  handle(message).then(
    (value) => process.send!({ id: message.id, ok: true, value } satisfies ChildReply),
    (error: unknown) => process.send!({ id: message.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies ChildReply),
  )
})
// The parent going away (crash, Ctrl-C) takes the server with it.
process.on('disconnect', () => process.exit(0))
