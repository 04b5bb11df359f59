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

/**
 * The order to run `items` in for `round` (negative rounds too): a balanced
 * Latin square (Williams design). Over n rounds (2n for an odd count) each
 * item runs once in every position, so drift on a shared machine favours
 * nobody, and follows every other item equally often, so what one run leaves
 * behind (a browser profile being deleted, a disk write-behind) slows each
 * equally. A plain rotation keeps the cyclic order: B always runs right
 * after A. Two copies of one build, timed on first visits of the bench's
 * gallery, differed by 3% in rotated order (median per-round ratio, 200
 * rounds) and by 0.3% in this one (160 rounds).
 */
export function balancedOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length
  if (n === 0) return []
  const period = n % 2 === 0 ? n : 2 * n
  const r = ((round % period) + period) % period
  // First row 0, 1, n-1, 2, n-2, ...; each round shifts it by one; an odd count then runs the rows mirrored.
  const first = [0]
  for (let i = 1, low = 1, high = n - 1; i < n; i++) first.push(i % 2 === 1 ? low++ : high--)
  const order = first.map((k) => items[(k + r) % n]!)
  return r >= n ? order.reverse() : order
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

/** One round's two measurements: Pixstore's and its baseline's (named `plain` whatever the baseline is). */
export interface Pair {
  pixstore: number
  plain: number
}

/** Min and max of per-round paired ratios (how stable the comparison was). */
export function ratioRange(pairs: readonly Pair[]): [number, number] {
  const ratios = pairs.map((pair) => ratio(pair.pixstore, pair.plain)).filter(Number.isFinite)
  return ratios.length ? [Math.min(...ratios), Math.max(...ratios)] : [Number.NaN, Number.NaN]
}

/**
 * How far the row's ratio (median over median, as printed) could move with
 * other rounds of the same kind: a paired bootstrap interval (`level`, 90% by
 * default) over resampled rounds. Seeded, so the same pairs give the same
 * interval. Says whether a run can tell a ratio from its target at all.
 */
export function ratioInterval(pairs: readonly Pair[], level = 0.9, resamples = 2000): [number, number] {
  const valid = pairs.filter((pair) => Number.isFinite(ratio(pair.pixstore, pair.plain)))
  if (valid.length === 0) return [Number.NaN, Number.NaN]
  let seed = 0x9e3779b9
  // mulberry32: small, seeded, good enough to pick resampled rounds.
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const ratios: number[] = []
  for (let i = 0; i < resamples; i++) {
    const sample = valid.map(() => valid[Math.floor(random() * valid.length)]!)
    ratios.push(ratio(median(sample.map((pair) => pair.pixstore)), median(sample.map((pair) => pair.plain))))
  }
  const tail = (1 - level) / 2
  return [percentile(ratios, tail * 100), percentile(ratios, (1 - tail) * 100)]
}

/**
 * The interval a row's target is judged by: 95% rather than 90%, because a
 * row that adds rounds until it is decided is looked at after every batch,
 * and each look is one more chance to stop on a lucky interval.
 */
export const VERDICT_LEVEL = 0.95

export type Verdict = 'met' | 'missed' | 'undecided'

/**
 * A row's two columns (the medians of its rounds), the range of its
 * per-round ratios, and the VERDICT_LEVEL interval of its ratio, which
 * decides the row's target if it has one (report.ts).
 */
export function summarize(pairs: readonly Pair[]): { pixstore: number; plain: number; range: [number, number]; interval: { range: [number, number]; level: number } } {
  return {
    pixstore: median(pairs.map((pair) => pair.pixstore)),
    plain: median(pairs.map((pair) => pair.plain)),
    range: ratioRange(pairs),
    interval: { range: ratioInterval(pairs, VERDICT_LEVEL), level: VERDICT_LEVEL },
  }
}

/**
 * Whether an interval of a ratio decides its target: met or missed only when
 * the whole interval lies on one side of it, undecided while it spans it (or
 * is no interval: no valid rounds).
 */
export function verdict([low, high]: readonly [number, number], { atMost = Infinity, atLeast = -Infinity }: { atMost?: number; atLeast?: number }): Verdict {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return 'undecided'
  if (atLeast <= low && high <= atMost) return 'met'
  if (low > atMost || high < atLeast) return 'missed'
  return 'undecided'
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Milliseconds since `start` (from process.hrtime.bigint()). */
export const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6
