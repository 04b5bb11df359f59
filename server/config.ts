import { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_PORT, DEFAULT_ROUTE } from '../protocol/defaults'
import { inspect } from 'node:util'
import { IMAGE_FORMAT_NAMES, type ImageFormatName } from '../protocol/formats'
import { isValidRoute } from '../protocol/workerConfig'
import { ERROR_HANDLING_MODES, PixstoreConfigError, type ErrorHandlingMode } from './errors'
import { isPostgresUrl, redactDatabaseUrl } from './stores/databaseUrl'
import type { KeyEncryptionKeyOption } from './keys/keyRing'
import { parseKeyEncryptionKey } from './keys/keyWrapping'

export interface PixstoreConfig {
  /** Start the built-in Koa server. False when you mount `pixstoreMiddleware` into your own app. */
  defaultEndpointEnabled: boolean
  defaultEndpointListenHost: string
  /** 0 picks a free port (handy in tests). */
  defaultEndpointListenPort: number
  defaultEndpointRoute: string
  /** An image answer that makes no progress (the client reads nothing) for this many ms is ended. */
  responseTimeout: number
  /** Open connections the default endpoint keeps; more are closed at once. `'auto'`: from the process's descriptor limit. */
  maxConnections: number | 'auto'
  /** `'*'`, one origin, or a list of origins (the request's Origin is echoed when listed). */
  accessControlAllowOrigin: string | string[]
  /** Proof time window in ms; -1 disables proof validation entirely. */
  statelessKeyWindowLength: number
  /** HMAC key for proofs; falls back to PIXSTORE_SECRET, then a random per-process secret. */
  statelessProofSecret: string | undefined
  /** Rotated-out secrets whose proofs are still accepted. */
  previousStatelessProofSecrets: string[]
  /** Wraps every stored image key (32 random bytes as base64 or hex, or a KMS object); falls back to PIXSTORE_KEY_ENCRYPTION_KEY. */
  keyEncryptionKey: KeyEncryptionKeyOption | undefined
  /** Rotated-out KEKs whose wrapped keys still unwrap (until `pixstore rekey` moved them). */
  previousKeyEncryptionKeys: KeyEncryptionKeyOption[]
  /** SQLite store: ciphertext files. Undefined when `databaseUrl` selects PostgreSQL. */
  imageRootDir: string | undefined
  /** SQLite store: metadata. Undefined when `databaseUrl` selects PostgreSQL. */
  databasePath: string | undefined
  /** `postgres://` or `postgresql://` URL selecting the PostgreSQL store; falls back to PIXSTORE_DATABASE_URL. */
  databaseUrl: string | undefined
  imageFormats: ImageFormatName[]
  errorHandlingMode: ErrorHandlingMode
  /** Byte budget of the in-process ciphertext cache; 0 disables it. */
  memoryCacheBytes: number
  /** Largest image `saveImage`/`updateImage` accept, in bytes. */
  maxImageBytes: number
}

const defaults: PixstoreConfig = {
  defaultEndpointEnabled: true,
  defaultEndpointListenHost: '0.0.0.0',
  defaultEndpointListenPort: DEFAULT_PORT,
  defaultEndpointRoute: DEFAULT_ROUTE,
  responseTimeout: 30_000,
  maxConnections: 'auto',
  accessControlAllowOrigin: '*',
  statelessKeyWindowLength: 20_000,
  statelessProofSecret: undefined,
  previousStatelessProofSecrets: [],
  keyEncryptionKey: undefined,
  previousKeyEncryptionKeys: [],
  imageRootDir: 'pixstore-data/images',
  databasePath: 'pixstore-data/pixstore.sqlite',
  databaseUrl: undefined,
  imageFormats: ['png', 'jpg', 'jpeg', 'webp', 'gif', 'avif'],
  errorHandlingMode: 'hybrid',
  memoryCacheBytes: 64 * 1024 * 1024,
  maxImageBytes: DEFAULT_MAX_IMAGE_BYTES,
}
export const DEFAULT_CONFIG: Readonly<PixstoreConfig> = Object.freeze(defaults)

export const MIN_SECRET_LENGTH = 32

type Check = (value: unknown) => string | null

const isString = (value: unknown): value is string => typeof value === 'string'
const isSecret = (value: unknown) => isString(value) && value.length >= MIN_SECRET_LENGTH
/** 32 bytes as base64 or hex, or an object with wrapKey and unwrapKey functions (a KMS). */
export const isKeyEncryptionKey = (value: unknown): boolean =>
  parseKeyEncryptionKey(value) !== null ||
  (typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>).wrapKey === 'function' && typeof (value as Record<string, unknown>).unwrapKey === 'function')
export const KEY_ENCRYPTION_KEY_RULE = '32 random bytes as base64 or 64 hex digits, or an object { wrapKey(key, id), unwrapKey(wrapped, id) }'
const isOrigin = (value: unknown) => isString(value) && /^https?:\/\/[^/\s]+$/.test(value)

const CHECKS: { [K in keyof PixstoreConfig]: Check } = {
  defaultEndpointEnabled: (v) => (typeof v === 'boolean' ? null : 'true or false'),
  defaultEndpointListenHost: (v) => (isString(v) && v.length > 0 ? null : 'a non-empty host name or IP address'),
  defaultEndpointListenPort: (v) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? null : 'an integer from 0 to 65535'),
  defaultEndpointRoute: (v) => (isValidRoute(v) ? null : 'a path like "/pixstore-image": starts with "/", no trailing "/", characters [A-Za-z0-9._~-]'),
  responseTimeout: (v) => (Number.isSafeInteger(v) && (v as number) >= 1000 && (v as number) <= 3_600_000 ? null : 'a whole number of milliseconds from 1000 to 3600000'),
  maxConnections: (v) => (v === 'auto' || (Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1_000_000) ? null : '"auto" or a whole number from 1 to 1000000'),
  accessControlAllowOrigin: (v) =>
    v === '*' || isOrigin(v) || (Array.isArray(v) && v.length > 0 && v.every(isOrigin))
      ? null
      : '"*", an origin like "https://app.example.com", or a non-empty list of origins',
  statelessKeyWindowLength: (v) => (v === -1 || (Number.isSafeInteger(v) && (v as number) > 0) ? null : 'a positive whole number of milliseconds, or -1 to disable proofs'),
  statelessProofSecret: (v) => (v === undefined || isSecret(v) ? null : `a string of at least ${MIN_SECRET_LENGTH} characters`),
  previousStatelessProofSecrets: (v) => (Array.isArray(v) && v.every(isSecret) ? null : `a list of strings of at least ${MIN_SECRET_LENGTH} characters`),
  keyEncryptionKey: (v) => (v === undefined || isKeyEncryptionKey(v) ? null : KEY_ENCRYPTION_KEY_RULE),
  previousKeyEncryptionKeys: (v) => (Array.isArray(v) && v.every(isKeyEncryptionKey) ? null : `a list of keys, each ${KEY_ENCRYPTION_KEY_RULE}`),
  imageRootDir: (v) => (isString(v) && v.length > 0 ? null : 'a non-empty directory path'),
  databasePath: (v) => (isString(v) && v.length > 0 ? null : 'a non-empty file path'),
  databaseUrl: (v) => (v === undefined || isPostgresUrl(v) ? null : 'a URL starting with postgres:// or postgresql://'),
  imageFormats: (v) =>
    Array.isArray(v) && v.length > 0 && v.every((f) => IMAGE_FORMAT_NAMES.includes(f))
      ? null
      : `a non-empty list of ${IMAGE_FORMAT_NAMES.map((f) => `"${f}"`).join(', ')}`,
  memoryCacheBytes: (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? null : 'a whole number of bytes, 0 to disable the cache'),
  maxImageBytes: (v) => (Number.isSafeInteger(v) && (v as number) > 0 ? null : 'a positive whole number of bytes'),
  errorHandlingMode: (v) => (ERROR_HANDLING_MODES.includes(v as ErrorHandlingMode) ? null : `one of ${ERROR_HANDLING_MODES.map((m) => `"${m}"`).join(', ')}`),
}

const SQLITE_FIELDS = ['databasePath', 'imageRootDir'] as const

/**
 * Validates every field before anything starts, so a typo fails loudly instead
 * of half-starting. `env` supplies PIXSTORE_DATABASE_URL when `databaseUrl` is not set.
 */
export function resolveConfig(input: Partial<PixstoreConfig> = {}, env: Record<string, string | undefined> = process.env): PixstoreConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new PixstoreConfigError('Pixstore config must be an object')
  }
  for (const field of Object.keys(input)) {
    if (!Object.hasOwn(CHECKS, field)) {
      throw new PixstoreConfigError(`Unknown config field "${field}"; allowed fields: ${Object.keys(CHECKS).join(', ')}`)
    }
  }
  const given = withoutUndefined(input) as Partial<PixstoreConfig>
  const fromEnv = given.databaseUrl === undefined && env.PIXSTORE_DATABASE_URL ? env.PIXSTORE_DATABASE_URL : undefined
  const config = { ...DEFAULT_CONFIG, ...given, ...(fromEnv ? { databaseUrl: fromEnv } : {}) } as PixstoreConfig
  const source = fromEnv ? ' (from PIXSTORE_DATABASE_URL)' : ''
  for (const [field, check] of Object.entries(CHECKS) as [keyof PixstoreConfig, Check][]) {
    const allowed = check(config[field])
    if (allowed) {
      const got = /Secret|EncryptionKey/.test(field)
        ? 'a value that is not allowed (not shown: it is a secret)'
        : field === 'databaseUrl' ? `${describe(redactDatabaseUrl(config[field]))}${source}` : describe(config[field])
      throw new PixstoreConfigError(`Invalid config field "${field}": got ${got}; allowed: ${allowed}`)
    }
  }
  if (config.databaseUrl !== undefined) {
    // Two stores named at once: refuse rather than silently ignore one.
    const clash = SQLITE_FIELDS.find((field) => given[field] !== undefined)
    if (clash) {
      throw new PixstoreConfigError(
        `Config fields "databaseUrl"${source} and "${clash}" cannot both be set: databaseUrl selects the PostgreSQL store, ${clash} belongs to the SQLite store`,
      )
    }
    for (const field of SQLITE_FIELDS) config[field] = undefined
  }
  return hideDatabasePassword(config)
}

/** util.inspect and JSON.stringify of a config show the database URL without its password. */
function hideDatabasePassword(config: PixstoreConfig): PixstoreConfig {
  const redacted = () => ({ ...config, databaseUrl: config.databaseUrl === undefined ? undefined : redactDatabaseUrl(config.databaseUrl) })
  Object.defineProperty(config, 'toJSON', { value: redacted, enumerable: false })
  Object.defineProperty(config, inspect.custom, { value: (_depth: number, options: object) => inspect(redacted(), options), enumerable: false })
  return config
}

function withoutUndefined(input: object): object {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined))
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
