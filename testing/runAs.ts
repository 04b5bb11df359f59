import { execFile, execFileSync } from 'node:child_process'
import { chownSync } from 'node:fs'
import { userInfo } from 'node:os'
import { promisify } from 'node:util'

const run = promisify(execFile)
const isRoot = () => userInfo().uid === 0

/**
 * Runs a server tool as `user` when we are root (PostgreSQL refuses to run as
 * root), as ourselves otherwise. Resolves with stdout; the error carries stderr.
 */
export async function runAs(user: string, command: string, args: string[]): Promise<string> {
  const [file, argv] = isRoot() ? ['runuser', ['-u', user, '--', command, ...args]] : [command, args]
  try {
    return (await run(file, argv, { maxBuffer: 16 * 1024 * 1024 })).stdout
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string }
    throw new Error(`${command} ${args.join(' ')} failed: ${(error as Error).message}\n${stdout ?? ''}${stderr ?? ''}`)
  }
}

/** The synchronous form, for process 'exit' handlers. */
export function runAsSync(user: string, command: string, args: string[]): void {
  const [file, argv] = isRoot() ? ['runuser', ['-u', user, '--', command, ...args]] : [command, args]
  execFileSync(file, argv, { stdio: 'ignore' })
}

/** Hands a path we created to `user` (only possible, and only needed, as root). */
export function giveTo(user: string, ...paths: string[]): void {
  if (!isRoot()) return
  const id = (flag: '-u' | '-g') => Number(execFileSync('id', [flag, user]).toString().trim())
  const [uid, gid] = [id('-u'), id('-g')]
  for (const target of paths) chownSync(target, uid, gid)
}

/** The user the servers run as: `fallback` as root, ourselves otherwise. */
export const serverUser = (fallback: string): string => (isRoot() ? fallback : userInfo().username)
