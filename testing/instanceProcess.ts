// Parent side of one Pixstore instance in its own process (testing/instanceChild.ts):
// several of them share one PostgreSQL database behind nginx, like a deployment.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ImageRecord, PixstoreConfig } from '../server/index'

export type InstanceCommand =
  | { type: 'start'; config: Partial<PixstoreConfig> }
  | { type: 'save'; image: string }
  | { type: 'update'; id: string; image: string }
  | { type: 'record'; id: string }
  | { type: 'served' }
  | { type: 'close' }

export type InstanceReply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string }

const CHILD = fileURLToPath(new URL('./instanceChild.ts', import.meta.url))
const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

export class PixstoreInstance {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  port = 0

  private constructor(private readonly child: ChildProcess, readonly name: string) {
    child.on('message', (message: InstanceReply) => {
      const waiter = this.pending.get(message.seq)
      if (!waiter) return
      this.pending.delete(message.seq)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`instance ${name}: ${message.error}`))
    })
    child.on('exit', (code, signal) => {
      live.delete(child)
      for (const waiter of this.pending.values()) waiter.reject(new Error(`instance ${name} exited (${code ?? signal})`))
      this.pending.clear()
    })
  }

  /** Forks the instance and resolves once its endpoint listens. */
  static async start(name: string, config: Partial<PixstoreConfig>): Promise<PixstoreInstance> {
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    live.add(child)
    const instance = new PixstoreInstance(child, name)
    instance.port = (await instance.send({ type: 'start', config })) as number
    return instance
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  save(image: Buffer): Promise<ImageRecord> {
    return this.send({ type: 'save', image: image.toString('base64') }) as Promise<ImageRecord>
  }

  update(id: string, image: Buffer): Promise<ImageRecord> {
    return this.send({ type: 'update', id, image: image.toString('base64') }) as Promise<ImageRecord>
  }

  record(id: string): Promise<ImageRecord> {
    return this.send({ type: 'record', id }) as Promise<ImageRecord>
  }

  /** HTTP requests its endpoint has received so far. */
  served(): Promise<number> {
    return this.send({ type: 'served' }) as Promise<number>
  }

  /** SIGKILL: no cleanup, open connections reset, like a crashed machine. */
  async kill(): Promise<void> {
    if (!this.alive) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill('SIGKILL')
    await exited
  }

  async close(): Promise<void> {
    if (!this.alive) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    await this.send({ type: 'close' }).catch(() => this.child.kill('SIGKILL'))
    await exited
  }

  private send(command: InstanceCommand): Promise<unknown> {
    const seq = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject })
      this.child.send({ ...command, seq }, (error) => {
        if (error) {
          this.pending.delete(seq)
          reject(error)
        }
      })
    })
  }
}
