// Section 6: what one store.read costs (meta + ciphertext of the current
// version) on the PostgreSQL store against the SQLite + files store, in this
// process, same images, same machine.
import { PixstoreBackend } from '../server/backend'
import type { ImageStore } from '../server/stores/imageStore'
import type { Row } from './report'
import { elapsedMs, median, ratioRange } from './stats'

export interface StoreUnderTest {
  databaseUrl?: string
  databasePath?: string
  imageRootDir?: string
}

async function readsPerSecond(store: ImageStore, id: string, reads: number, concurrency: number): Promise<number> {
  let issued = 0
  const start = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued++ < reads) if (!(await store.read(id))) throw new Error(`read(${id}) found nothing`)
    }),
  )
  return reads / (elapsedMs(start) / 1000)
}

export async function benchStoreReads(
  postgres: StoreUnderTest,
  sqlite: StoreUnderTest,
  secret: string,
  images: { label: string; bytes: Buffer; reads: number }[],
  { rounds, concurrencies }: { rounds: number; concurrencies: number[] },
): Promise<Row[]> {
  const open = async (location: StoreUnderTest) => {
    const backend = new PixstoreBackend({ ...location, statelessProofSecret: secret, defaultEndpointEnabled: false }, { env: {} })
    await backend.open()
    const ids: string[] = []
    for (const { bytes } of images) {
      const record = await backend.saveImage(bytes)
      if (!record) throw new Error(`saveImage failed: ${backend.lastError?.message}`)
      ids.push(record.id)
    }
    return { backend, ids }
  }
  const pg = await open(postgres)
  const lite = await open(sqlite)
  const rows: Row[] = []
  try {
    let letter = 0
    for (const [index, image] of images.entries()) {
      for (const concurrency of concurrencies) {
        type Side = typeof pg
        const run = (side: Side, reads: number) => readsPerSecond(side.backend.store, side.ids[index]!, reads, concurrency)
        for (const side of [pg, lite]) await run(side, Math.ceil(image.reads / 4)) // warm-up
        const pairs: { pixstore: number; plain: number }[] = []
        for (let round = 0; round < rounds; round++) {
          // Alternate who goes first, so drift on a shared machine favours neither.
          const rates = new Map<Side, number>()
          for (const side of round % 2 === 0 ? [pg, lite] : [lite, pg]) rates.set(side, await run(side, image.reads))
          pairs.push({ pixstore: rates.get(pg)!, plain: rates.get(lite)! })
          process.stdout.write('.')
        }
        rows.push({
          key: `6${String.fromCharCode(97 + letter++)}`,
          label: `store.read ${image.label}, ${concurrency} in flight: PostgreSQL vs SQLite`,
          unit: 'reads/s',
          pixstore: median(pairs.map((p) => p.pixstore)),
          plain: median(pairs.map((p) => p.plain)),
          range: ratioRange(pairs),
          better: 'higher',
          digits: 0,
          explain:
            letter === 1
              ? `${image.reads} reads of one ${image.label} image per round, ${concurrency} at a time. PostgreSQL: one SELECT over local TCP from a pool of 10. SQLite: a row lookup plus a file read.`
              : `Same, ${image.reads} reads of the ${image.label} image, ${concurrency} at a time.`,
        })
      }
    }
  } finally {
    await pg.backend.close()
    await lite.backend.close()
  }
  return rows
}
