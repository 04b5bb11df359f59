// The printed result: one compact table (Pixstore, plain baseline, ratio) and
// a short explanation per row.
import { ratio } from './stats'

export interface Row {
  key: string
  label: string
  unit: string
  pixstore: number
  plain: number
  /** Min..max of the per-round pixstore/plain ratios. */
  range?: [number, number]
  better: 'higher' | 'lower'
  /** Decimals for the two values. */
  digits?: number
  explain: string
}

const fmt = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a'

const fmtRatio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a')

/** `columns` names the two compared sides (default pixstore vs its plain baseline). */
export function printReport(title: string, context: string[], rows: readonly Row[], notes: readonly string[] = [], columns: [string, string] = ['pixstore', 'plain']): void {
  const table = rows.map((row) => {
    const digits = row.digits ?? 1
    const range = row.range && Number.isFinite(row.range[0]) ? `${row.range[0].toFixed(2)}-${row.range[1].toFixed(2)}` : ''
    return [row.key, `${row.label} (${row.unit})`, fmt(row.pixstore, digits), fmt(row.plain, digits), fmtRatio(ratio(row.pixstore, row.plain)), range, row.better]
  })
  const header = ['#', 'measurement', columns[0], columns[1], `${columns[0]}/${columns[1]}`, 'round range', 'better']
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((cells) => cells[i]!.length)))
  const line = (cells: string[]) => cells.map((cell, i) => (i >= 2 && i <= 4 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()
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
