import { mkdirSync } from 'node:fs'

/** What a page kept from Pixstore 3.x for one image, and the file it was saved from. */
export interface V3Record {
  id: string
  token: number
  meta: { key: string; iv: string; tag: string }
  file: string
}

/**
 * A real Pixstore 3.x store, written by the published 3.2.1 package (dev
 * dependency `pixstore-v3`). Its backend is one per process: this initialises
 * it on `config`, where later 3.x calls in the same process keep writing.
 * Every second file goes under the dir `avatars`.
 */
export async function writePixstore3Store(config: { imageRootDir: string; databasePath: string }, files: string[]): Promise<V3Record[]> {
  const pixstore3 = await import('pixstore-v3/backend/index.js')
  mkdirSync(config.imageRootDir, { recursive: true })
  pixstore3.initPixstoreBackend({ ...config, defaultEndpointEnabled: false, errorHandlingMode: 'throw' })
  const records: V3Record[] = []
  for (const [index, file] of files.entries()) {
    const record = await pixstore3.saveImageFromFile(file, index % 2 ? 'avatars' : undefined)
    records.push({ ...(record as unknown as V3Record), file })
  }
  return records
}
