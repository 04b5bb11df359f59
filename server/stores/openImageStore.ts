import type { PixstoreConfig } from '../config'
import type { ImageStore } from './imageStore'
import { PostgresImageStore } from './postgresStore'
import { SqliteImageStore } from './sqliteStore'

/** The store a resolved config selects: PostgreSQL for `databaseUrl`, else SQLite + ciphertext files (the embedded default). */
export function openImageStore(config: Pick<PixstoreConfig, 'imageRootDir' | 'databasePath' | 'databaseUrl'>): ImageStore {
  if (config.databaseUrl !== undefined) return new PostgresImageStore(config.databaseUrl)
  if (config.imageRootDir === undefined || config.databasePath === undefined) throw new Error('The SQLite store needs imageRootDir and databasePath')
  return new SqliteImageStore(config.imageRootDir, config.databasePath)
}
