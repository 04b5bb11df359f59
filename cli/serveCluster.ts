import { PixstoreError } from '../server/errors'
import cluster, { type Worker } from 'node:cluster'
import { PixstoreBackend } from '../server/backend'
import { initPixstoreBackend, type PixstoreConfig } from '../server/index'
import { resolveSecrets } from '../server/secrets'

/** What a worker tells the primary once its endpoint listens. */
interface ListeningMessage {
  pixstore: 'listening'
  url: string
}

const isListening = (message: unknown): message is ListeningMessage =>
  typeof message === 'object' && message !== null && (message as ListeningMessage).pixstore === 'listening'

/**
 * The primary of `pixstore serve --workers N`: N processes share one listening
 * socket, the way nginx runs a worker per core. They can, because nothing an
 * answer depends on lives in one process: the store is shared (SQLite in WAL
 * mode, or PostgreSQL), the ciphertext cache is keyed by immutable versions,
 * and proofs are stateless HMACs under one secret, handed to every worker.
 *
 * A worker that dies while serving is replaced; one that dies before it
 * listens stops the whole command, since starting another would fail alike.
 */
export async function superviseWorkers(config: PixstoreConfig, workers: number, env: Record<string, string | undefined>): Promise<NodeJS.Signals> {
  // Resolved (and warned about) once here; the workers inherit the outcome: a shared random proof secret, no second warning.
  const secretEnv = resolveSecrets(config, env, console.warn, { sharedByWorkers: true }).childEnv
  // Opening the store once here checks it (and creates or migrates its schema) before N processes race to.
  const check = new PixstoreBackend({ ...config, defaultEndpointEnabled: false }, { env: { ...env, ...secretEnv } })
  try {
    await check.open()
  } finally {
    await check.close()
  }

  let stopping: NodeJS.Signals | null = null
  const listening = new Set<Worker>()
  let announced = false
  let failStartup: (error: Error) => void = () => {}

  const fork = () => {
    const worker = cluster.fork(secretEnv)
    worker.on('message', (message) => {
      if (!isListening(message)) return
      listening.add(worker)
      if (!announced && listening.size === workers) {
        announced = true
        console.log(`pixstore: serving ${message.url}${config.defaultEndpointRoute}/:id with ${workers} workers (Ctrl-C to stop)`)
      }
    })
    worker.on('exit', (code, signal) => {
      const served = listening.delete(worker)
      // Exit code 0 is a worker that was told to stop (Ctrl-C reaches the whole process group).
      if (stopping || (code === 0 && served)) return
      if (!served) return failStartup(new PixstoreError(`a worker exited before it listened (${signal ?? `code ${code}`})`, 'ERR_CLI_FAILED'))
      console.error(`pixstore: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`)
      fork()
    })
  }
  for (let i = 0; i < workers; i++) fork()

  const signal = await new Promise<NodeJS.Signals>((resolve, reject) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
    failStartup = reject
  }).catch(async (error: Error) => {
    stopping = 'SIGTERM'
    await stopAll()
    throw error
  })
  stopping = signal
  await stopAll()
  return signal
}

/** Each worker closes its connections and its store on SIGTERM; waits until all have exited. */
async function stopAll(): Promise<void> {
  const running = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => !!worker && !worker.isDead())
  await Promise.all(
    running.map(
      (worker) =>
        new Promise<void>((resolve) => {
          worker.once('exit', () => resolve())
          worker.process.kill('SIGTERM')
        }),
    ),
  )
}

/** A worker of `pixstore serve --workers N`: serves until SIGTERM/SIGINT, or until its primary is gone. */
export async function serveAsClusterWorker(config: PixstoreConfig): Promise<void> {
  const handle = await initPixstoreBackend({ ...config, defaultEndpointEnabled: true }).catch((error: unknown) => {
    process.disconnect?.() // else the IPC channel keeps this process alive after the error is printed
    throw error
  })
  process.send?.({ pixstore: 'listening', url: handle.url! } satisfies ListeningMessage)
  await new Promise<unknown>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
    process.once('disconnect', resolve)
  })
  await handle.close()
  process.disconnect?.()
}
