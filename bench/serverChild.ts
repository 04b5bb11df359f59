// Child process: one bench server, either Pixstore's default endpoint
// (initPixstoreBackend, exactly as an application starts it) or a plain Koa
// static server that reads a file per request. Driven over IPC by serverProcess.ts.
import { mkdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Koa from 'koa'
import path from 'node:path'
import { freePort } from '../testing/freePort'
import { answerParent } from '../testing/childRpc'
import type { ChildCommand, ChildSample, Started, StartMessage, StaticFile } from './serverProcess'

const requests: Record<string, number> = {}
let closeServer: (() => Promise<void>) | null = null

function countRequests(server: Server): void {
  server.on('request', (req) => {
    const segment = (req.url ?? '/').split('/')[1] ?? ''
    const key = `${req.method} /${segment}`
    requests[key] = (requests[key] ?? 0) + 1
  })
}

async function startPixstore(start: Extract<StartMessage, { mode: 'pixstore' }>): Promise<Started> {
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
  return { port: (handle.server.address() as AddressInfo).port }
}

/**
 * Pixstore 3.2.1 exactly as its README starts it: module-level config, its
 * own raw http endpoint. It needs a fixed port, so a free one is picked first.
 */
async function startPixstoreV3(start: Extract<StartMessage, { mode: 'pixstore-v3' }>): Promise<Started> {
  const v3 = (await import('pixstore-v3/backend/index.js')) as unknown as PixstoreV3
  const port = await freePort()
  mkdirSync(start.dir, { recursive: true })
  v3.initPixstoreBackend({
    defaultEndpointListenHost: '127.0.0.1',
    defaultEndpointListenPort: port,
    imageRootDir: path.join(start.dir, 'images'),
    databasePath: path.join(start.dir, 'pixstore3.sqlite'),
    statelessKeyWindowLength: start.windowMs,
  })
  const records = []
  for (const file of start.images) records.push(await v3.saveImage(await readFile(file)))
  return { port, records }
}

interface PixstoreV3 {
  initPixstoreBackend(config: Record<string, unknown>): void
  saveImage(buffer: Buffer): Promise<{ id: string; token: number; statelessProof: string }>
}

async function startPlain(files: Record<string, StaticFile>): Promise<Started> {
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
  // A page the bench closes mid-image (first pixels alone) resets its answer: the client's doing, not a server error.
  app.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') console.error(error)
  })
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject))
  countRequests(server)
  closeServer = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { port: (server.address() as AddressInfo).port }
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
      if (command.start.mode === 'pixstore') return startPixstore(command.start)
      if (command.start.mode === 'pixstore-v3') return startPixstoreV3(command.start)
      return startPlain(command.start.files)
    case 'sample':
      return sample(command.gc)
    case 'close':
      await closeServer?.()
      setImmediate(() => process.exit(0))
      return null
  }
}

// The parent going away (crash, Ctrl-C) takes the server with it.
answerParent(handle)
