import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import { createProgress, formatBytes } from './progress'

/** A stream that records what was written, posing as a terminal or a pipe. */
function captured(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 }) as unknown as NodeJS.WriteStream
  let text = ''
  ;(stream as unknown as PassThrough).on('data', (chunk) => (text += chunk))
  return { stream, text: () => text }
}

describe('createProgress', () => {
  it('writes plain numbered lines when the stream is not a terminal', () => {
    const out = captured(false)
    const progress = createProgress(2, 'Importing', out.stream)
    progress.tick('a.png', 'saved')
    progress.tick('b.txt', 'skipped')
    progress.stop()
    assert.equal(out.text(), '[1/2] a.png: saved\n[2/2] b.txt: skipped\n')
  })

  it('draws a bar on a terminal, and no numbered lines', async () => {
    const out = captured(true)
    const progress = createProgress(2, 'Importing', out.stream)
    progress.tick('a.png', 'saved')
    progress.tick('b.png', 'saved')
    progress.stop()
    await new Promise((resolve) => setImmediate(resolve))
    assert.match(out.text(), /Importing \[[\u2588\u2591]+\] 2\/2/)
    assert.doesNotMatch(out.text(), /\[1\/2\]/)
  })
})

describe('formatBytes', () => {
  it('uses binary units with one decimal', () => {
    assert.equal(formatBytes(512), '512 B')
    assert.equal(formatBytes(18_637), '18.2 KB')
    assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GB')
  })
})
