// Three writes to a fresh SQLite store, for tracing their system calls: `saveThree.ts <config json> <image file>`.
// A save, a save into a new `dir:` folder, and an update of the first.
import { readFileSync } from 'node:fs'
import { PixstoreBackend } from '../../server/backend'

const [configJson, file] = process.argv.slice(2)
const backend = new PixstoreBackend({ ...JSON.parse(configJson!), errorHandlingMode: 'throw' })
const image = readFileSync(file!)
const first = await backend.saveImage(image)
await backend.saveImage(image, 'albums')
await backend.updateImage(first!.id, image)
await backend.close()
