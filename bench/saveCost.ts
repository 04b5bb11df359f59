// Section 3: what one saveImage costs (format detection, AES-256-GCM, write to
// chunks written while the next is encrypted, datasync, SQLite insert) against writing the same
// bytes with fs.writeFile, and against fs.writeFile followed by datasync.
import { mkdir, open, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PixstoreBackend } from '../server/index'
import { syncFolder } from '../server/stores/durableWrite'
import type { Row } from './report'
import { elapsedMs, median, ratioRange } from './stats'

export interface SaveCase {
  name: string
  bytes: Buffer
  savesPerRound: number
}

/** A new file made as durable as a Pixstore version: its bytes, and its name in the folder (synced side by side). */
async function durableWrite(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx')
  try {
    await handle.writeFile(bytes)
    await Promise.all([handle.datasync(), syncFolder(path.dirname(file))])
  } finally {
    await handle.close()
  }
}

async function timed(action: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint()
  await action()
  return elapsedMs(start)
}

export async function benchSave(
  dir: string,
  secret: string,
  cases: readonly SaveCase[],
  { rounds, warmup }: { rounds: number; warmup: number },
): Promise<Row[]> {
  const plainDir = path.join(dir, 'plain')
  const backend = new PixstoreBackend({
    defaultEndpointEnabled: false,
    statelessProofSecret: secret,
    imageRootDir: path.join(dir, 'images'),
    databasePath: path.join(dir, 'pixstore.sqlite'),
  })
  const rows: Row[] = []
  let fileNumber = 0
  try {
    for (const [index, testCase] of cases.entries()) {
      const perRound: { pixstore: number; plain: number; durable: number }[] = []
      for (let round = -1; round < rounds; round++) {
        // Round -1 is the warm-up and is thrown away.
        await rm(plainDir, { recursive: true, force: true })
        await mkdir(plainDir, { recursive: true })
        const saved: string[] = []
        const times = { pixstore: [] as number[], plain: [] as number[], durable: [] as number[] }
        const count = round < 0 ? warmup : testCase.savesPerRound
        for (let i = 0; i < count; i++) {
          // Interleaved, one of each per iteration, so disk and CPU drift hit all three alike.
          times.pixstore.push(
            await timed(async () => {
              const record = await backend.saveImage(testCase.bytes)
              if (!record) throw new Error(`saveImage failed: ${backend.lastError?.message}`)
              saved.push(record.id)
            }),
          )
          times.plain.push(await timed(() => writeFile(path.join(plainDir, `${fileNumber++}.png`), testCase.bytes)))
          times.durable.push(await timed(() => durableWrite(path.join(plainDir, `${fileNumber++}.png`), testCase.bytes)))
        }
        for (const id of saved) await backend.deleteImage(id)
        if (round >= 0) perRound.push({ pixstore: median(times.pixstore), plain: median(times.plain), durable: median(times.durable) })
      }
      process.stdout.write('.')
      const pixstore = median(perRound.map((r) => r.pixstore))
      const key = (offset: number) => `3${String.fromCharCode(97 + index * 2 + offset)}`
      rows.push(
        {
          key: key(0),
          label: `saveImage ${testCase.name} vs fs.writeFile`,
          unit: 'ms/image',
          pixstore,
          plain: median(perRound.map((r) => r.plain)),
          range: ratioRange(perRound.map((r) => ({ pixstore: r.pixstore, plain: r.plain }))),
          better: 'lower',
          digits: 2,
          explain: `Median time of one saveImage(${testCase.name} PNG) (detect, encrypt in chunks while writing them, sync file and folder while the structure check runs, SQLite insert), ${testCase.savesPerRound} per round, against fs.writeFile of the same bytes to a new file (no fsync).`,
        },
        {
          key: key(1),
          label: `saveImage ${testCase.name} vs durable write`,
          unit: 'ms/image',
          pixstore,
          plain: median(perRound.map((r) => r.durable)),
          range: ratioRange(perRound.map((r) => ({ pixstore: r.pixstore, plain: r.durable }))),
          better: 'lower',
          digits: 2,
          explain: 'Same saves against an equally durable plain write (open, writeFile, then datasync of the file and fsync of its folder side by side, close): what Pixstore costs beyond the durability any careful store pays.',
        },
      )
    }
  } finally {
    await backend.close()
    await rm(plainDir, { recursive: true, force: true })
  }
  return rows
}
