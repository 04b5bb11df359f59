// A second process writing the same store: `updateLoop.ts <config json> <id> <count> <image files...>`.
// Prints one ImageRecord per line after each committed update, then exits.
// UPDATE_EVERY_MS in the environment paces the updates (one per that many ms) instead of running flat out.
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { PixstoreBackend } from '../../server/backend'

const [configJson, id, count, ...files] = process.argv.slice(2)
const every = Number(process.env.UPDATE_EVERY_MS ?? 0)
const backend = new PixstoreBackend({ ...JSON.parse(configJson!), errorHandlingMode: 'throw' })
const images = files.map((file) => readFileSync(file))
for (let i = 0; i < Number(count); i++) {
  const started = Date.now()
  const record = await backend.updateImage(id!, images[i % images.length]!)
  process.stdout.write(`${JSON.stringify(record)}\n`)
  if (every > 0) await sleep(Math.max(0, every - (Date.now() - started)))
}
await backend.close()
