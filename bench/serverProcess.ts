// Parent side of a bench server: forks bench/serverChild.ts (so the load
// generator never shares the server's event loop) and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** What the plain static server serves at one path. */
export interface StaticFile {
  path: string
  contentType: string
  cacheControl: string
}

export type StartMessage =
  | {
      mode: 'pixstore'
      imageRootDir: string
      databasePath: string
      secret: string
      windowMs: number
    }
  | { mode: 'plain'; files: Record<string, StaticFile> }
  /** Pixstore 3.2.1 (npm `pixstore`) in its own store under `dir`: saves `images` at start, answers their records. */
  | { mode: 'pixstore-v3'; dir: string; images: string[]; windowMs: number }

/** What a started child answers: its port, and for pixstore-v3 the records of the images it saved. */
export interface Started {
  port: number
  records?: { id: string; token: number; statelessProof: string }[]
}

export type ChildCommand = { type: 'start'; start: StartMessage } | { type: 'sample'; gc: boolean } | { type: 'close' }

export interface ChildSample {
  memory: NodeJS.MemoryUsage
  /** Peak resident set size of the process so far, bytes. */
  maxRss: number
  /** user + system CPU time since the process started, microseconds. */
  cpuMicros: number
  /** Requests served so far, by "METHOD /first-segment". */
  requests: Record<string, number>
}

export type ChildReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string }

const CHILD = fileURLToPath(new URL('./serverChild.ts', import.meta.url))
const live = new Set<ChildProcess>()

// A failing bench must not leave servers behind.
process.on('exit', () => {
  for (const child of live) child.kill()
})

export class ServerProcess {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  port = 0
  records: NonNullable<Started['records']> = []

  private constructor(private readonly child: ChildProcess, readonly label: string) {
    child.on('message', (message: ChildReply) => {
      const waiter = this.pending.get(message.id)
      if (!waiter) return
      this.pending.delete(message.id)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`${label} server: ${message.error}`))
    })
    child.on('exit', (code, signal) => {
      live.delete(child)
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${label} server exited (${code ?? signal})`))
      this.pending.clear()
    })
  }

  /** Forks a server process and starts listening on a free 127.0.0.1 port. */
  static async start(label: string, start: StartMessage): Promise<ServerProcess> {
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    live.add(child)
    const server = new ServerProcess(child, label)
    const started = (await server.send({ type: 'start', start })) as Started
    server.port = started.port
    server.records = started.records ?? []
    return server
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`
  }

  sample(gc = false): Promise<ChildSample> {
    return this.send({ type: 'sample', gc }) as Promise<ChildSample>
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    await this.send({ type: 'close' }).catch(() => undefined)
    const timer = setTimeout(() => this.child.kill(), 3000)
    await exited
    clearTimeout(timer)
  }

  private send(command: ChildCommand, timeoutMs = 20_000): Promise<unknown> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.label} server: no answer to "${command.type}" within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      })
      this.child.send({ id, ...command })
    })
  }
}
