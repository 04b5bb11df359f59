// Parent side of a bench server: forks bench/serverChild.ts (so the load
// generator never shares the server's event loop) and talks to it over IPC.
import { fileURLToPath } from 'node:url'
import { ChildRpc } from '../testing/childRpc'

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

const CHILD = fileURLToPath(new URL('./serverChild.ts', import.meta.url))
const ANSWER_TIMEOUT_MS = 20_000

export class ServerProcess {
  port = 0
  records: NonNullable<Started['records']> = []

  private constructor(
    private readonly rpc: ChildRpc<ChildCommand>,
    readonly label: string,
  ) {}

  /** Forks a server process and starts listening on a free 127.0.0.1 port. */
  static async start(label: string, start: StartMessage): Promise<ServerProcess> {
    const server = new ServerProcess(ChildRpc.fork<ChildCommand>(CHILD, `${label} server`, { execArgv: ['--expose-gc'] }), label)
    const started = (await server.rpc.send({ type: 'start', start }, ANSWER_TIMEOUT_MS)) as Started
    server.port = started.port
    server.records = started.records ?? []
    return server
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`
  }

  sample(gc = false): Promise<ChildSample> {
    return this.rpc.send({ type: 'sample', gc }, ANSWER_TIMEOUT_MS) as Promise<ChildSample>
  }

  async close(): Promise<void> {
    if (!this.rpc.alive) return
    const exited = this.rpc.exited()
    await this.rpc.send({ type: 'close' }, ANSWER_TIMEOUT_MS).catch(() => undefined)
    const timer = setTimeout(() => this.rpc.child.kill(), 3000)
    await exited
    clearTimeout(timer)
  }
}
