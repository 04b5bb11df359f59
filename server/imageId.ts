import { randomBytes } from 'node:crypto'
import { PixstoreError } from './errors'

const DIR_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
export const DIR_RULE = '1-64 characters of [A-Za-z0-9_-]'

export const isValidDir = (dir: unknown): dir is string => typeof dir === 'string' && DIR_PATTERN.test(dir)

/**
 * A new id: 128 random bits in base64url, optionally as `dir:name` (the dir
 * becomes a folder under imageRootDir). Random, so ids cannot be guessed.
 */
export async function createImageId(dir: string | undefined, exists: (id: string) => Promise<boolean>): Promise<string> {
  // typeof first: a regex test would accept 123 or ['a'] by turning them into strings.
  if (dir !== undefined && typeof dir !== 'string') {
    throw new PixstoreError(`Invalid dir: expected a string, got ${dir === null ? 'null' : Array.isArray(dir) ? 'an array' : typeof dir}`, 'ERR_INVALID_DIR')
  }
  if (dir !== undefined && !isValidDir(dir)) {
    throw new PixstoreError(`Invalid dir "${String(dir).slice(0, 64)}": use ${DIR_RULE}`, 'ERR_INVALID_DIR')
  }
  for (;;) {
    const name = randomBytes(16).toString('base64url')
    const id = dir ? `${dir}:${name}` : name
    if (!(await exists(id))) return id
  }
}
