// Install weight: `pg` is an optional peer dependency, so an app on SQLite must
// never load it (packaging/pack.test.ts installs the package without it).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'

const child = fileURLToPath(new URL('../../testing/testChildren/sqliteWithoutPg.ts', import.meta.url))
const run = async (...args: string[]) => JSON.parse((await promisify(execFile)(process.execPath, ['--import', 'tsx', child, ...args])).stdout)

describe('the SQLite store and pg', () => {
  it('a SQLite backend opens, saves, serves and closes without ever loading pg', async () => {
    const result = await run()
    assert.equal(result.served, 0, 'Success: the image was served')
    assert.ok(result.bytes > 100, `${result.bytes} bytes: state and ciphertext`)
    assert.equal(result.pgLoadedBySqlite, false)
  })

  it('the check sees pg once something loads it', async () => {
    const result = await run('control')
    assert.equal(result.pgLoadedBySqlite, false)
    assert.equal(result.pgLoadedAtEnd, true)
  })
})
