// The printed result: one compact table (Pixstore, the baseline it is compared
// with, the ratio and the target) and a short explanation per row.
import { ratio, verdict } from './stats'

export interface Row {
  key: string
  label: string
  unit: string
  pixstore: number
  /** The baseline's value (named by `versus`). */
  plain: number
  /** Which baseline: 'plain' unless given. */
  versus?: string
  /** Min..max of the per-round pixstore/baseline ratios. */
  range?: [number, number]
  better: 'higher' | 'lower'
  /** The ratio the project aims for. */
  target?: { atMost?: number; atLeast?: number }
  /**
   * An interval of the ratio (ratioInterval) and its level. With it, the
   * target counts as met or missed only when the whole interval lies on one
   * side of it (verdict); a run whose interval spans the target says so.
   */
  interval?: { range: [number, number]; level: number }
  /** Decimals for the two values. */
  digits?: number
  explain: string
}

const fmt = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a'

const fmtRatio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a')

function fmtTarget(row: Row, value: number): string {
  const { atMost, atLeast } = row.target ?? {}
  if (atMost === undefined && atLeast === undefined) return ''
  const aim = atMost !== undefined ? `<=${atMost}x` : `>=${atLeast}x`
  if (row.interval) {
    const [low, high] = row.interval.range
    const judged = verdict(row.interval.range, row.target!)
    return `${aim} ${judged === 'met' ? 'met' : judged === 'missed' ? 'MISSED' : 'undecided'} (${Math.round(row.interval.level * 100)}%: ${fmtRatio(low)}-${fmtRatio(high)})`
  }
  const met = Number.isFinite(value) && (atMost === undefined || value <= atMost) && (atLeast === undefined || value >= atLeast)
  return `${aim} ${met ? 'met' : 'MISSED'}`
}

/** `columns` names the two compared sides when every row has the same ones (default pixstore vs the row's `versus`). */
export function printReport(title: string, context: string[], rows: readonly Row[], notes: readonly string[] = [], columns: [string, string] = ['pixstore', 'plain']): void {
  const table = rows.map((row) => {
    const digits = row.digits ?? 1
    const range = row.range && Number.isFinite(row.range[0]) ? `${row.range[0].toFixed(2)}-${row.range[1].toFixed(2)}` : ''
    const value = ratio(row.pixstore, row.plain)
    return [row.key, `${row.label} (${row.unit})`, fmt(row.pixstore, digits), row.versus ?? columns[1], fmt(row.plain, digits), fmtRatio(value), range, row.better, fmtTarget(row, value)]
  })
  const header = ['#', 'measurement', columns[0], 'versus', 'baseline', 'ratio', 'round range', 'better', 'target']
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((cells) => cells[i]!.length)))
  const right = new Set([2, 4, 5])
  const line = (cells: string[]) => cells.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()
  console.log(`\n${title}`)
  for (const text of context) console.log(`  ${text}`)
  console.log('')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const cells of table) console.log(line(cells))
  console.log('\nWhat each row measures:')
  for (const row of rows) console.log(`  ${row.key.padEnd(3)} ${row.explain}`)
  if (notes.length) {
    console.log('\nNotes:')
    for (const note of notes) console.log(`  - ${note}`)
  }
}
