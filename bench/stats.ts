// Small numeric helpers shared by the bench sections.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The arithmetic mean: unlike the median, it counts the rare long waits a viewer sits through. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length
}

/** `items` started at index `round` (mod length, negative rounds too): rotating the order each round lets drift on a shared machine favour nobody. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(((i + round) % items.length) + items.length) % items.length]!)
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

/** Pixstore value over plain value; NaN when the baseline is not a positive number. */
export function ratio(pixstore: number, plain: number): number {
  return plain > 0 && Number.isFinite(pixstore) ? pixstore / plain : Number.NaN
}

/** Min and max of per-round paired ratios (how stable the comparison was). */
export function ratioRange(pairs: readonly { pixstore: number; plain: number }[]): [number, number] {
  const ratios = pairs.map((pair) => ratio(pair.pixstore, pair.plain)).filter(Number.isFinite)
  return ratios.length ? [Math.min(...ratios), Math.max(...ratios)] : [Number.NaN, Number.NaN]
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Milliseconds since `start` (from process.hrtime.bigint()). */
export const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6
