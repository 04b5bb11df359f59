import { PixstoreError } from '../server/errors'

/**
 * Writes one JSON object per line, for scripts (`--json`). JSON.stringify
 * escapes C0 controls (newline, ESC); C1 controls (U+0080-U+009F, some
 * terminals read U+009B as ESC [) and bidi overrides are escaped here too.
 */
export const printJsonLine = (value: object): void =>
  void process.stdout.write(`${JSON.stringify(value).replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`)

const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
/** Control characters and bidi overrides: a file name holding them could forge a line or drive the terminal. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** `text` safe for one terminal line: every control character shown as an escape (`\n`, `\x1b`, `\u202e`). */
export function printable(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0)
    return NAMED[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
  })
}

/** One summary line on stdout, escaped like the progress lines. */
export const printLine = (text: string): void => console.log(printable(text))

/** Why one item failed, in one line: our own messages as they are, anything else with its type. */
export function reasonOf(error: unknown): string {
  if (error instanceof PixstoreError) return error.message
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
