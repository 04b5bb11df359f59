// Section 5: endpoint throughput of 2 Pixstore instances on one PostgreSQL
// behind nginx, against 1 instance answered directly (and 1 behind nginx, to
// show what the balancer itself costs). All on this machine: the load
// generator, nginx, PostgreSQL and the instances share its cores.
import { Nginx } from '../testing/nginx'
import type { Deployment } from '../testing/deployment'
import type { ImageRecord } from '../server/index'
import { runLoad, type LoadResult, type LoadSpec } from './loadGenerator'
import type { Row } from './report'
import { balancedOrder, summarize } from './stats'

export interface ScaleOutOptions {
  rounds: number
  concurrency: number
  requests: number
  warmup: number
}

export async function benchScaleOut(deployment: Deployment, image: Buffer, label: string, options: ScaleOutOptions): Promise<Row[]> {
  const [a] = deployment.instances
  const record: ImageRecord = await a!.save(image)
  const single = await Nginx.balancer([a!.port])
  try {
    const spec = (origin: string, requests: number): LoadSpec => ({
      url: `${origin}/pixstore-image/${record.id}`,
      headers: { 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': String(record.token) },
      requests,
      concurrency: options.concurrency,
      expectBytes: image.length + 2, // state byte + format byte + image (GCM adds no padding)
      expectFirstByte: 0,
    })
    const targets = { two: deployment.balancer.url, one: a!.url, oneBalanced: single.url }
    for (const origin of Object.values(targets)) await runLoad(spec(origin, options.warmup))
    const rounds: Record<keyof typeof targets, LoadResult>[] = []
    for (let round = 0; round < options.rounds; round++) {
      // Rotate the order so drift on a shared machine favours nobody.
      const order = balancedOrder(['two', 'one', 'oneBalanced'] as const, round)
      const results = {} as Record<keyof typeof targets, LoadResult>
      for (const name of order) results[name] = await runLoad(spec(targets[name], options.requests))
      rounds.push(results)
      process.stdout.write('.')
    }
    const compare = (a: keyof typeof targets, b: keyof typeof targets, field: keyof LoadResult) => {
      const pairs = rounds.map((r) => ({ pixstore: r[a][field], plain: r[b][field] }))
      return summarize(pairs)
    }
    const what = `${options.requests} GETs of a ${label} image (Success), keep-alive, ${options.concurrency} in flight`
    return [
      {
        key: '5a',
        label: `${label}: 2 instances via nginx vs 1 direct`,
        unit: 'req/s',
        ...compare('two', 'one', 'rps'),
        better: 'higher',
        digits: 0,
        explain: `${what}. Left: nginx round-robin over 2 instances on one PostgreSQL. Right: 1 instance, no balancer.`,
      },
      {
        key: '5b',
        label: `${label}: p99 latency, 2 via nginx vs 1 direct`,
        unit: 'ms',
        ...compare('two', 'one', 'p99Ms'),
        better: 'lower',
        digits: 2,
        explain: 'The same runs, 99th percentile latency seen by the client.',
      },
      {
        key: '5c',
        label: `${label}: 1 instance via nginx vs 1 direct`,
        unit: 'req/s',
        ...compare('oneBalanced', 'one', 'rps'),
        better: 'higher',
        digits: 0,
        explain: 'What the extra hop costs: the same single instance behind nginx, against it answered directly.',
      },
    ]
  } finally {
    await single.stop()
  }
}
