// Request and reply over a forked child's IPC channel: the parent side
// (ChildRpc) and the child side (answerParent). The test instances
// (instanceProcess.ts) and the bench servers (bench/serverProcess.ts) both
// drive their child processes this way.
import { fork, type ChildProcess } from 'node:child_process'

/** `seq`, not `id`: commands carry image ids. */
type Reply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string }

const live = new Map<ChildProcess, NodeJS.Signals>()
// A parent that ends, failing or not, must not leave children behind.
process.on('exit', () => {
  for (const [child, signal] of live) child.kill(signal)
})

export class ChildRpc<Command extends { type: string }> {
  private nextSeq = 1
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()

  private constructor(
    readonly child: ChildProcess,
    private readonly label: string,
  ) {
    child.on('message', (message: Reply) => {
      const waiter = this.pending.get(message.seq)
      if (!waiter) return
      this.pending.delete(message.seq)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`${label}: ${message.error}`))
    })
    child.on('exit', (code, signal) => {
      live.delete(child)
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${label} exited (${code ?? signal})`))
      this.pending.clear()
    })
  }

  /** Forks `script` under tsx; `killOnExit` is what it gets if this process ends first. */
  static fork<Command extends { type: string }>(script: string, label: string, options: { execArgv?: string[]; killOnExit?: NodeJS.Signals } = {}): ChildRpc<Command> {
    const child = fork(script, [], { execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    live.set(child, options.killOnExit ?? 'SIGTERM')
    return new ChildRpc<Command>(child, label)
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Resolves once the child has exited. */
  exited(): Promise<void> {
    return this.alive ? new Promise((resolve) => this.child.once('exit', () => resolve())) : Promise.resolve()
  }

  /** The child's answer to `command`; rejects with its error, when it exits, or after `timeoutMs` if given. */
  send(command: Command, timeoutMs?: number): Promise<unknown> {
    const seq = this.nextSeq++
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(seq)
              reject(new Error(`${this.label}: no answer to "${command.type}" within ${timeoutMs} ms`))
            }, timeoutMs)
      this.pending.set(seq, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      })
      this.child.send({ ...command, seq }, (error) => {
        if (!error) return
        const waiter = this.pending.get(seq)
        this.pending.delete(seq)
        waiter?.reject(error)
      })
    })
  }
}

/** The child side: answers each command from the parent with `handle`'s result or error; the parent going away ends the child. */
export function answerParent<Command>(handle: (command: Command) => Promise<unknown>): void {
  process.on('message', (message: Command & { seq: number }) => {
    handle(message).then(
      (value) => process.send!({ seq: message.seq, ok: true, value } satisfies Reply),
      (error: unknown) => process.send!({ seq: message.seq, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Reply),
    )
  })
  process.on('disconnect', () => process.exit(0))
}
