// Parent side of one Pixstore instance in its own process (testing/instanceChild.ts):
// several of them share one PostgreSQL database behind nginx, like a deployment.
import { fileURLToPath } from 'node:url'
import type { ImageRecord, PixstoreConfig } from '../server/index'
import { ChildRpc } from './childRpc'

export type InstanceCommand =
  | { type: 'start'; config: Partial<PixstoreConfig> }
  | { type: 'save'; image: string }
  | { type: 'update'; id: string; image: string }
  | { type: 'record'; id: string }
  | { type: 'served' }
  | { type: 'close' }

const CHILD = fileURLToPath(new URL('./instanceChild.ts', import.meta.url))

export class PixstoreInstance {
  port = 0

  private constructor(
    private readonly rpc: ChildRpc<InstanceCommand>,
    readonly name: string,
  ) {}

  /** Forks the instance and resolves once its endpoint listens. */
  static async start(name: string, config: Partial<PixstoreConfig>): Promise<PixstoreInstance> {
    const instance = new PixstoreInstance(ChildRpc.fork<InstanceCommand>(CHILD, `instance ${name}`, { killOnExit: 'SIGKILL' }), name)
    instance.port = (await instance.rpc.send({ type: 'start', config })) as number
    return instance
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get alive(): boolean {
    return this.rpc.alive
  }

  save(image: Buffer): Promise<ImageRecord> {
    return this.rpc.send({ type: 'save', image: image.toString('base64') }) as Promise<ImageRecord>
  }

  update(id: string, image: Buffer): Promise<ImageRecord> {
    return this.rpc.send({ type: 'update', id, image: image.toString('base64') }) as Promise<ImageRecord>
  }

  record(id: string): Promise<ImageRecord> {
    return this.rpc.send({ type: 'record', id }) as Promise<ImageRecord>
  }

  /** HTTP requests its endpoint has received so far. */
  served(): Promise<number> {
    return this.rpc.send({ type: 'served' }) as Promise<number>
  }

  /** SIGKILL: no cleanup, open connections reset, like a crashed machine. */
  async kill(): Promise<void> {
    if (!this.alive) return
    const exited = this.rpc.exited()
    this.rpc.child.kill('SIGKILL')
    await exited
  }

  async close(): Promise<void> {
    if (!this.alive) return
    const exited = this.rpc.exited()
    await this.rpc.send({ type: 'close' }).catch(() => this.rpc.child.kill('SIGKILL'))
    await exited
  }
}
