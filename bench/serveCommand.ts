// The `pixstore` command's endpoint, started the way an operator starts it
// (the built command, `serve --workers N`), for the rows that compare Pixstore
// using every core against nginx doing the same.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { childPids } from '../testing/processTree'

const COMMAND = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url))

export interface ServeOptions {
  workers: string
  secret: string
  windowMs: number
  imageRootDir: string
  databasePath: string
}

export class ServeCommand {
  private constructor(
    private readonly child: ChildProcess,
    readonly origin: string,
  ) {}

  static async start(options: ServeOptions): Promise<ServeCommand> {
    const args = [
      COMMAND, 'serve', '--workers', options.workers,
      '--default-endpoint-listen-host', '127.0.0.1', '--default-endpoint-listen-port', '0',
      '--stateless-key-window-length', String(options.windowMs),
      '--image-root-dir', options.imageRootDir, '--database-path', options.databasePath,
    ]
    const child = spawn(process.execPath, args, { env: { ...process.env, PIXSTORE_SECRET: options.secret }, stdio: ['ignore', 'pipe', 'pipe'] })
    process.on('exit', () => child.kill())
    let output = ''
    const origin = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pixstore serve did not start within 30 s:\n${output}`)), 30_000)
      const read = (chunk: Buffer) => {
        output += chunk
        const url = /serving (http:\/\/[^/\s]+)/.exec(output)?.[1]
        if (url) {
          clearTimeout(timer)
          resolve(url)
        }
      }
      child.stdout!.on('data', read)
      child.stderr!.on('data', read)
      child.once('exit', (code) => reject(new Error(`pixstore serve exited (${code}):\n${output}`)))
    })
    return new ServeCommand(child, origin)
  }

  /** The primary and its workers, for CPU accounting. */
  pids(): number[] {
    return [this.child.pid!, ...childPids(this.child.pid!)]
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill('SIGTERM')
    await exited
  }
}
