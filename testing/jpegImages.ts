/**
 * Large JPEGs for the streaming tests and the bench, made the same way every
 * time: a seeded picture (smooth colour fields, edges and grain, like a
 * photo) encoded by libjpeg-turbo's cjpeg (Debian libjpeg-turbo-progs,
 * scripts/ensure-debian-packages.sh), baseline or progressive. Same options,
 * same bytes.
 */
import { spawnSync } from 'node:child_process'

export interface JpegOptions {
  width: number
  height: number
  seed: number
  progressive: boolean
  /** cjpeg -quality, 1..100. */
  quality: number
  /** Amplitude of the grain (0..127): more grain, more bytes. */
  grain: number
}

export function makeJpeg(options: JpegOptions): Buffer {
  const { width, height, seed } = options
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1')
  const pixels = Buffer.alloc(width * height * 3)
  let state = (seed * 2654435761) >>> 0 || 1
  const cells = 12
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      const grain = ((state >>> 0) % (2 * options.grain + 1)) - options.grain
      const cell = (Math.floor((x * cells) / width) + Math.floor((y * cells) / height) * 7 + seed) % 5
      const at = (y * width + x) * 3
      pixels[at] = clamp(((x * 255) / width) * (cell % 2 ? 1 : 0.4) + grain)
      pixels[at + 1] = clamp(((y * 255) / height) * (cell > 2 ? 1 : 0.5) + grain)
      pixels[at + 2] = clamp(40 * cell + grain)
    }
  }
  const args = ['-quality', String(options.quality), '-optimize', ...(options.progressive ? ['-progressive'] : [])]
  const result = spawnSync('cjpeg', args, { input: Buffer.concat([header, pixels]), maxBuffer: 256 * 1024 * 1024 })
  if (result.error) throw new Error(`cjpeg is needed for the JPEG fixtures (apt-get install libjpeg-turbo-progs): ${result.error.message}`)
  if (result.status !== 0) throw new Error(`cjpeg failed: ${result.stderr.toString()}`)
  return result.stdout
}

const clamp = (value: number) => Math.max(0, Math.min(255, Math.round(value)))

/** The 8 MB-class photo of issue 17's table: 6000x4000. */
export const LARGE_JPEG = { width: 6000, height: 4000, seed: 17, quality: 90, grain: 20 } as const
