import cliProgress from 'cli-progress'
import { printable } from './output'

export interface Progress {
  /** One item done; `label` says which, `status` how it went. */
  tick(label: string, status: string): void
  stop(): void
}

/**
 * A bar on an interactive terminal; plain `[i/n] label: status` lines when
 * stderr is a pipe or a file, where a redrawn bar would be unreadable.
 * Always on stderr, so stdout stays for results. Labels are escaped
 * (`printable`): a file name cannot forge a line or reach the terminal raw.
 */
export function createProgress(total: number, title: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  let done = 0
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: `${title} [{bar}] {value}/{total} {label}`, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    )
    bar.start(total, 0, { label: '' })
    return {
      tick: (raw) => {
        const label = printable(raw)
        bar.update(++done, { label: label.length > 40 ? `...${label.slice(-37)}` : label })
      },
      stop: () => bar.stop(),
    }
  }
  return {
    tick: (label, status) => void stream.write(`[${++done}/${total}] ${printable(label)}: ${printable(status)}\n`),
    stop: () => {},
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
