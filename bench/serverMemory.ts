// Section 2: memory of a fresh server process before and after serving N
// requests of the 1 MB image, Pixstore against the plain static server.
import { runLoad, type LoadSpec } from './loadGenerator'
import type { Row } from './report'
import type { ChildSample, ServerProcess } from './serverProcess'
import { median, ratioRange } from './stats'

export interface MemoryCase {
  name: string
  startPixstore: () => Promise<ServerProcess>
  startPlain: () => Promise<ServerProcess>
  pixstoreSpec: (server: ServerProcess) => LoadSpec
  plainSpec: (server: ServerProcess) => LoadSpec
}

interface MemoryResult {
  idleRss: number
  peakRss: number
  rssGrowth: number
  retainedGrowth: number
}

const MB = 1024 * 1024
const retained = (s: ChildSample) => s.memory.heapUsed + s.memory.external

async function measureFresh(start: () => Promise<ServerProcess>, spec: (server: ServerProcess) => LoadSpec): Promise<MemoryResult> {
  const server = await start()
  try {
    const before = await server.sample(true)
    await runLoad(spec(server))
    const loaded = await server.sample(false)
    const collected = await server.sample(true)
    return {
      idleRss: before.memory.rss / MB,
      peakRss: loaded.maxRss / MB,
      rssGrowth: (loaded.memory.rss - before.memory.rss) / MB,
      retainedGrowth: (retained(collected) - retained(before)) / MB,
    }
  } finally {
    await server.close()
  }
}

export async function benchMemory(testCase: MemoryCase, { rounds, requests }: { rounds: number; requests: number }): Promise<Row[]> {
  const results: { pixstore: MemoryResult; plain: MemoryResult }[] = []
  for (let round = 0; round < rounds; round++) {
    const pixstore = await measureFresh(testCase.startPixstore, testCase.pixstoreSpec)
    const plain = await measureFresh(testCase.startPlain, testCase.plainSpec)
    results.push({ pixstore, plain })
    process.stdout.write('.')
  }
  const pick = (field: keyof MemoryResult) => {
    const pairs = results.map((r) => ({ pixstore: r.pixstore[field], plain: r.plain[field] }))
    return { pixstore: median(pairs.map((p) => p.pixstore)), plain: median(pairs.map((p) => p.plain)), range: ratioRange(pairs) }
  }
  const fresh = `a fresh server process per round, ${requests} GETs of the ${testCase.name} image at the same concurrency as section 1`
  return [
    { key: '2a', label: 'server RSS at idle, after start', unit: 'MB', ...pick('idleRss'), better: 'lower', explain: 'Resident memory of a fresh server process after start-up and a forced GC, before any request (Pixstore includes SQLite and its modules).' },
    { key: '2b', label: `server peak RSS, ${requests} x ${testCase.name}`, unit: 'MB', ...pick('peakRss'), better: 'lower', explain: `Peak resident memory (getrusage maxRSS) of ${fresh}.` },
    { key: '2c', label: `server RSS growth, ${requests} x ${testCase.name}`, unit: 'MB', ...pick('rssGrowth'), better: 'lower', explain: 'RSS right after the load minus RSS at idle (no GC in between): garbage plus retained memory.' },
    {
      key: '2d',
      label: 'server heap+external kept after GC',
      unit: 'MB',
      ...pick('retainedGrowth'),
      better: 'lower',
      digits: 2,
      explain: 'heapUsed + external after a forced GC, minus the same before the load: memory the server keeps (a leak would show here). Near zero on both sides is the good outcome; the ratio of two near-zero numbers means little.',
    },
  ]
}
