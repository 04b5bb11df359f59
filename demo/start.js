// `npm start`: the Pixstore endpoint on :7482 and a demo site on :7480 (another
// origin, as in real deployments). Imports the built package the way users do.
import { cp, rm } from 'node:fs/promises'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { getImageRecord, initPixstoreBackend, saveImageFromFile } from 'pixstore/backend'
import { createDemoSite } from './site.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const dataDir = process.env.PIXSTORE_DEMO_DIR ?? path.join(root, '.pixstore-demo')
const samplesDir = path.join(root, 'fixtures', 'images')
const SITE_PORT = Number(process.env.DEMO_PORT ?? 7480)
const BACKEND_PORT = Number(process.env.PIXSTORE_PORT ?? 7482)
// Loopback only unless told otherwise (DEMO_HOST=0.0.0.0 to show it on your network): a demo is no server.
const HOST = process.env.DEMO_HOST ?? '127.0.0.1'

await rm(dataDir, { recursive: true, force: true })
const pixstore = await initPixstoreBackend({
  defaultEndpointListenHost: HOST,
  defaultEndpointListenPort: BACKEND_PORT,
  imageRootDir: path.join(dataDir, 'images'),
  databasePath: path.join(dataDir, 'pixstore.sqlite'),
  // A fixed demo secret, so the demo's proofs survive a restart like production ones do.
  statelessProofSecret: process.env.PIXSTORE_SECRET ?? 'pixstore-demo-secret-change-me-in-production',
})
const samples = readdirSync(samplesDir).filter((name) => /\.(png|jpe?g|webp|gif|avif)$/.test(name)).sort()
const gallery = []
for (const name of samples) {
  const record = await saveImageFromFile(path.join(samplesDir, name), 'demo')
  if (record) gallery.push({ id: record.id, sample: gallery.length })
}

const site = createDemoSite({ gallery, samples: samples.map((name) => path.join(samplesDir, name)), backendPort: BACKEND_PORT })
const server = site.listen(SITE_PORT, HOST)
await new Promise((resolve) => server.once('listening', resolve))

console.log(`Pixstore endpoint: ${pixstore.url}/pixstore-image/:id`)
console.log(`Saved ${gallery.length} sample images. One record, as your API would return it:`)
console.log(JSON.stringify(await getImageRecord(gallery[0].id), null, 2))
console.log(`\nDemo gallery: http://${HOST === '127.0.0.1' || HOST === '0.0.0.0' ? 'localhost' : HOST}:${SITE_PORT}/ (listening on ${HOST}; DEMO_HOST changes it)\n`)

const stop = async () => {
  server.closeAllConnections()
  server.close()
  await pixstore.close()
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
