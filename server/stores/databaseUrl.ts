import { parse } from 'pg-connection-string'
import type { PoolConfig } from 'pg'

const POSTGRES_URL = /^postgres(ql)?:\/\//i

/** True for the URLs that select the PostgreSQL store. */
export function isPostgresUrl(value: unknown): value is string {
  if (typeof value !== 'string' || !POSTGRES_URL.test(value)) return false
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}

/** The URL with its password replaced, for messages and logs; never throws. */
export function redactDatabaseUrl(value: unknown): string {
  if (typeof value !== 'string') return String(value)
  try {
    const url = new URL(value)
    if (url.password) url.password = '***'
    for (const key of [...url.searchParams.keys()]) if (/pass|secret|key/i.test(key)) url.searchParams.set(key, '***')
    return url.toString()
  } catch {
    // Not parseable: hide everything between the scheme and the host.
    return value.replace(/\/\/[^@/]*@/, '//***@')
  }
}

/**
 * Pool settings from the URL as separate fields rather than a
 * `connectionString`, so the password never sits in an enumerable property
 * that util.inspect or a log line would print (pg hides `password` itself).
 */
export function postgresPoolConfig(databaseUrl: string): PoolConfig {
  const { password, ...rest } = parse(databaseUrl)
  const config: PoolConfig = {}
  for (const [key, value] of Object.entries(rest)) if (value !== undefined && value !== null) (config as Record<string, unknown>)[key] = value
  if (typeof config.port === 'string') config.port = Number(config.port)
  if (password) config.password = password
  return config
}
