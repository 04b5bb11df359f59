// A second process writing the same store: `updateLoop.ts <config json> <id> <count> <image files...>`.
// Prints one ImageRecord per line after each committed update, then exits.
import { readFileSync } from 'node:fs'
import { PixstoreBackend } from '../backend'

const [configJson, id, count, ...files] = process.argv.slice(2)
const backend = new PixstoreBackend({ ...JSON.parse(configJson!), errorHandlingMode: 'throw' })
const images = files.map((file) => readFileSync(file))
for (let i = 0; i < Number(count); i++) {
  const record = await backend.updateImage(id!, images[i % images.length]!)
  process.stdout.write(`${JSON.stringify(record)}\n`)
}
await backend.close()
