// A first-time user's program against the installed tarball: save an image, read it back through the endpoint.
import { createDecipheriv } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { initPixstoreBackend, saveImageFromFile, type ImageRecord, type PixstoreConfig, type PixstoreHandle } from 'pixstore/backend'
import { decodeImageMeta, decodeWirePayload, PixstoreState, unframeImage } from 'pixstore/protocol'

const [imagePath, dataDir] = process.argv.slice(2) as [string, string]
const config: Partial<PixstoreConfig> = {
  defaultEndpointListenHost: '127.0.0.1',
  defaultEndpointListenPort: 0,
  statelessProofSecret: 'consumer-secret-consumer-secret-0123',
  imageRootDir: `${dataDir}/images`,
  databasePath: `${dataDir}/pixstore.sqlite`,
}
const handle: PixstoreHandle = await initPixstoreBackend(config)
try {
  const record: ImageRecord | null = await saveImageFromFile(imagePath, 'avatars')
  if (!record) throw new Error('saveImageFromFile gave null')
  const response = await fetch(`${handle.url}/pixstore-image/${record.id}`, {
    headers: { 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': String(record.token) },
  })
  const payload = decodeWirePayload(new Uint8Array(await response.arrayBuffer()))
  if (payload.state !== PixstoreState.Success) throw new Error(`endpoint answered state ${payload.state}`)
  const meta = decodeImageMeta(record.meta)
  const decipher = createDecipheriv('aes-256-gcm', meta.key, meta.iv)
  decipher.setAuthTag(meta.tag)
  const { format, image } = unframeImage(Buffer.concat([decipher.update(payload.ciphertext), decipher.final()]))
  const same = Buffer.from(image).equals(await readFile(imagePath))
  console.log(JSON.stringify({ id: record.id, format: format.name, same }))
} finally {
  await handle.close()
}
