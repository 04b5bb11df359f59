import { readFileSync } from 'node:fs'

/** user + system CPU of processes so far, in microseconds, from /proc (for servers that are not ours, like nginx). */
export function processCpuMicros(pids: number[]): number {
  const ticks = pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return sum + Number(fields[11]) + Number(fields[12])
    } catch {
      return sum // a worker that exited
    }
  }, 0)
  return (ticks * 1e6) / 100 // USER_HZ is 100 on Linux
}
