import type { PixstoreConfig } from '../config'
import type { ImageStore } from './imageStore'
import { SqliteImageStore } from './sqliteStore'

/** The store a config selects: SQLite + ciphertext files, the embedded default. */
export function openImageStore(config: Pick<PixstoreConfig, 'imageRootDir' | 'databasePath'>): ImageStore {
  return new SqliteImageStore(config.imageRootDir, config.databasePath)
}
