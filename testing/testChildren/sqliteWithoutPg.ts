// Child of server/stores/openImageStore.test.ts: a SQLite backend's whole life
// (open, save, serve an answer, close), then whether `pg` was ever loaded.
// With "control", it loads `pg` itself afterwards, so the check is shown to see it.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PixstoreBackend } from '../../server/backend'
import { makePng } from '../images'

const require = createRequire(import.meta.url)
const pgLoaded = () => Object.keys(require.cache).some((file) => /[\\/]node_modules[\\/]pg[\\/]/.test(file))

// Not testing/testSupport: it loads pg for its PostgreSQL helpers.
const dir = mkdtempSync(path.join(tmpdir(), 'pixstore-nopg-'))
const config = { imageRootDir: path.join(dir, 'images'), databasePath: path.join(dir, 'pixstore.sqlite') }
const backend = new PixstoreBackend({ ...config, statelessProofSecret: 'x'.repeat(32), errorHandlingMode: 'throw' }, { env: {} })
await backend.open()
const record = (await backend.saveImage(makePng(2000, 1)))!
const answer = await backend.answerRequest(record.id, record.token, record.statelessProof)
answer.release?.()
await backend.close()
rmSync(dir, { recursive: true, force: true })
const before = pgLoaded()
if (process.argv.includes('control')) await import('pg')
process.stdout.write(JSON.stringify({ served: answer.head[0], bytes: answer.length, pgLoadedBySqlite: before, pgLoadedAtEnd: pgLoaded() }))
