import { PixstoreError } from '../server/errors'

/** Writes one JSON object per line, for scripts (`--json`). */
export const printJsonLine = (value: object): void => void process.stdout.write(`${JSON.stringify(value)}\n`)

/** Why one item failed, in one line: our own messages as they are, anything else with its type. */
export function reasonOf(error: unknown): string {
  if (error instanceof PixstoreError) return error.message
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
