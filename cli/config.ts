import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { DEFAULT_CONFIG, resolveConfig, type PixstoreConfig } from '../server/config'
import { PixstoreConfigError } from '../server/errors'
import { CliUsageError } from './errors'

type Field = keyof PixstoreConfig
type Kind = 'boolean' | 'integer' | 'integerOrAuto' | 'string' | 'list' | 'origins'

/** How each config field is written on the command line and in the environment. */
const FIELDS: Record<Field, { kind: Kind; help: string; secret?: true }> = {
  defaultEndpointEnabled: { kind: 'boolean', help: 'start the endpoint (serve)' },
  defaultEndpointListenHost: { kind: 'string', help: 'address the endpoint listens on' },
  defaultEndpointListenPort: { kind: 'integer', help: 'port the endpoint listens on; 0 picks a free one' },
  defaultEndpointRoute: { kind: 'string', help: 'route of the endpoint' },
  responseTimeout: { kind: 'integer', help: 'ms an image answer may make no progress before it is ended' },
  maxConnections: { kind: 'integerOrAuto', help: 'open connections the endpoint keeps; auto: from the descriptor limit' },
  accessControlAllowOrigin: { kind: 'origins', help: '"*" or comma-separated origins' },
  statelessKeyWindowLength: { kind: 'integer', help: 'proof window in ms; -1 disables proofs' },
  // Secrets have no flag: a command line is visible to every user of the machine.
  statelessProofSecret: { kind: 'string', help: '', secret: true },
  previousStatelessProofSecrets: { kind: 'list', help: '', secret: true },
  keyEncryptionKey: { kind: 'string', help: '', secret: true },
  previousKeyEncryptionKeys: { kind: 'list', help: '', secret: true },
  imageRootDir: { kind: 'string', help: 'folder of the ciphertext files' },
  databasePath: { kind: 'string', help: 'SQLite metadata file' },
  databaseUrl: { kind: 'string', help: 'postgres://user@host/db selects the PostgreSQL store (password in PGPASSWORD)' },
  imageFormats: { kind: 'list', help: 'comma-separated formats to accept' },
  errorHandlingMode: { kind: 'string', help: 'hybrid, throw, warn, silent or custom' },
  memoryCacheBytes: { kind: 'integer', help: 'ciphertext cache of the endpoint; 0 disables it' },
  maxImageBytes: { kind: 'integer', help: 'largest image accepted' },
}

const kebab = (field: string) => field.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
const flagOf = (field: Field) => `--${kebab(field)}`
const envOf = (field: Field) => `PIXSTORE_${kebab(field).replace(/-/g, '_').toUpperCase()}`

/** Adds `--config` and one flag per (non-secret) config field. */
export function addConfigOptions(command: Command): Command {
  command.option('--config <file.json>', 'read config fields from a JSON file (flags and PIXSTORE_* env override it)')
  for (const [field, { kind, help, secret }] of Object.entries(FIELDS) as [Field, (typeof FIELDS)[Field]][]) {
    if (secret) continue
    const value = kind === 'boolean' ? '<true|false>' : kind === 'list' || kind === 'origins' ? '<a,b,...>' : '<value>'
    command.option(`${flagOf(field)} ${value}`, `${help} (env ${envOf(field)}; default ${JSON.stringify(DEFAULT_CONFIG[field])})`)
  }
  return command
}

export const CONFIG_HELP = `
Config: flags override PIXSTORE_* environment variables, which override --config file.json,
which overrides the defaults. The proof secret comes from PIXSTORE_SECRET (or
PIXSTORE_STATELESS_PROOF_SECRET / PIXSTORE_PREVIOUS_STATELESS_PROOF_SECRETS, or the file),
never from a flag; so does the key encryption key (PIXSTORE_KEY_ENCRYPTION_KEY,
PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS comma-separated).`

/**
 * The backend config from a config file, the environment and flags, in
 * rising priority. Every error names where the bad value came from.
 */
export function loadCliConfig(options: Record<string, unknown>, env: Record<string, string | undefined>): PixstoreConfig {
  const config: Record<string, unknown> = {}
  const sources = new Map<string, string>()
  if (typeof options.config === 'string') {
    for (const [field, value] of Object.entries(readConfigFile(options.config))) {
      config[field] = value
      sources.set(field, `--config ${options.config}`)
    }
  }
  for (const [field, { kind }] of Object.entries(FIELDS) as [Field, (typeof FIELDS)[Field]][]) {
    const name = envOf(field)
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    config[field] = parseValue(kind, raw, name)
    sources.set(field, name)
  }
  for (const [field, { kind, secret }] of Object.entries(FIELDS) as [Field, (typeof FIELDS)[Field]][]) {
    const raw = options[field] // commander camel-cases --image-root-dir back to imageRootDir
    if (secret || typeof raw !== 'string') continue
    config[field] = parseValue(kind, raw, flagOf(field))
    sources.set(field, flagOf(field))
  }
  try {
    return resolveConfig(config as Partial<PixstoreConfig>)
  } catch (error) {
    if (!(error instanceof PixstoreConfigError)) throw error
    const field = /config field "([^"]+)"/.exec(error.message)?.[1]
    const source = field && sources.get(field)
    throw new CliUsageError(source ? `${error.message} (from ${source})` : error.message)
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new CliUsageError(`--config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new CliUsageError(`--config ${file}: not valid JSON (${(error as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliUsageError(`--config ${file}: must hold a JSON object of config fields`)
  return parsed as Record<string, unknown>
}

function parseValue(kind: Kind, raw: string, name: string): unknown {
  switch (kind) {
    case 'boolean':
      if (raw === 'true' || raw === 'false') return raw === 'true'
      throw new CliUsageError(`${name}: expected true or false, got ${JSON.stringify(raw)}`)
    case 'integer':
      if (/^-?\d+$/.test(raw.trim())) return Number(raw)
      throw new CliUsageError(`${name}: expected a whole number, got ${JSON.stringify(raw)}`)
    case 'integerOrAuto':
      if (raw.trim() === 'auto') return 'auto'
      return parseValue('integer', raw, name)
    case 'list':
      return raw.split(',').map((item) => item.trim()).filter(Boolean)
    case 'origins':
      return raw.trim() === '*' ? '*' : raw.split(',').map((item) => item.trim()).filter(Boolean)
    case 'string':
      return raw
  }
}
