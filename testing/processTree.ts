import { readdirSync, readFileSync } from 'node:fs'

/** Live (not zombie) child processes of `pid`, from /proc: the workers of a `pixstore serve --workers N`. */
export function childPids(pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The fields after the ")" that ends the command name: state, ppid, ...
      const [state, ppid] = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ').at(-1)!.split(' ')
      if (Number(ppid) === pid && state !== 'Z') children.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  return children
}
