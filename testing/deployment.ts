/**
 * A small production-like deployment for tests and the bench: one private
 * PostgreSQL cluster, N Pixstore instances (processes) sharing one database
 * and one secret, and nginx balancing across them.
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { Nginx } from './nginx'
import { PixstoreInstance } from './instanceProcess'
import { PostgresCluster } from './postgresCluster'

export interface Deployment {
  cluster: PostgresCluster
  databaseUrl: string
  secret: string
  instances: PixstoreInstance[]
  balancer: Nginx
  stop(): Promise<void>
}

export async function startDeployment(instanceCount: number, windowMs = 10 * 60_000): Promise<Deployment> {
  const cluster = await PostgresCluster.start()
  const stoppers: (() => Promise<void>)[] = [() => cluster.stop()]
  const stop = async () => {
    for (const stopper of stoppers.reverse()) await stopper().catch(() => {})
  }
  try {
    const databaseUrl = await cluster.createDatabase()
    const secret = randomBytes(32).toString('hex')
    const config = { databaseUrl, statelessProofSecret: secret, statelessKeyWindowLength: windowMs }
    // Started together on purpose: the schema migration must happen once.
    const instances = await Promise.all(Array.from({ length: instanceCount }, (_, i) => PixstoreInstance.start(String.fromCharCode(65 + i), config)))
    stoppers.push(() => Promise.all(instances.map((instance) => instance.close())).then(() => {}))
    const balancer = await Nginx.balancer(instances.map((instance) => instance.port))
    stoppers.push(() => balancer.stop())
    return { cluster, databaseUrl, secret, instances, balancer, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** GET with a keep-alive agent, body as bytes; rejects on a network error. */
export function getBytes(agent: http.Agent, url: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, headers }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }))
      response.on('error', reject)
    })
    request.on('error', reject)
  })
}

/** Runs `task` `total` times on `concurrency` parallel lanes. */
export async function runLanes(total: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++)
    }),
  )
}
