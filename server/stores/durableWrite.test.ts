import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { countEventLoopTurns, tempStore } from '../../testing/testSupport'
import { writeDurably } from './durableWrite'

describe('writeDurably', () => {
  let temp: ReturnType<typeof tempStore>
  beforeEach(() => (temp = tempStore()))
  afterEach(() => temp.cleanup())

  it('writes chunks of any size back to back, into a folder it makes when missing', async () => {
    const sizes = [1, 3, 70_000, 1, 262_144, 5, 64 * 1024, 262_144, 2, 100_000]
    const chunks = sizes.map((size) => randomBytes(size))
    const file = path.join(temp.dir, 'new-folder', 'file.pxs')
    await writeDurably(file, chunks)
    assert.deepEqual(readFileSync(file), Buffer.concat(chunks))
    await assert.rejects(writeDurably(file, [Buffer.from('again')]), { code: 'EEXIST' }, 'never overwrites')
    assert.deepEqual(readFileSync(file), Buffer.concat(chunks))
  })

  it('hands the event loop back between chunks, so a large save does not stall what else the process serves', async () => {
    const loop = countEventLoopTurns()
    const turnAtEachChunk: number[] = []
    function* chunks() {
      for (let i = 0; i < 40; i++) {
        turnAtEachChunk.push(loop.turns)
        yield randomBytes(256 * 1024)
      }
    }
    try {
      await writeDurably(path.join(temp.dir, 'large.pxs'), chunks())
    } finally {
      loop.stop()
    }
    const distinctTurns = new Set(turnAtEachChunk).size
    assert.ok(distinctTurns >= 10, `40 chunks were produced in only ${distinctTurns} event-loop turns`)
  })

  it('removes the file when a chunk fails, and leaves the folder as it was', async () => {
    function* failing() {
      yield randomBytes(300_000)
      yield randomBytes(300_000)
      throw new Error('cipher failed')
    }
    const file = path.join(temp.dir, 'broken.pxs')
    await assert.rejects(writeDurably(file, failing()), /cipher failed/)
    assert.equal(existsSync(file), false)
    assert.deepEqual(readdirSync(temp.dir), [])
  })
})
