// The CPU a page's service worker spends, read from a Chromium trace: what
// the worker's own work costs, without the swings of whole page-load times.
import type { Browser } from '@playwright/test'

/** Chromium's name for a service worker's thread in a trace's metadata. */
const WORKER_THREAD = 'ServiceWorker thread'
/** The events that wrap each task a thread runs (category `toplevel`, with the thread's CPU time as `tdur`). */
const TASK_EVENTS = new Set(['ThreadControllerImpl::RunTask', 'RunTask'])

interface TraceEvent {
  ph: string
  name: string
  pid: number
  tid: number
  /** Microseconds. */
  ts: number
  dur?: number
  tdur?: number
  args?: { name?: string }
}

/**
 * Runs `act` under a Chromium trace and returns the CPU time (ms) the
 * service worker threads spent in tasks meanwhile. A task wrapped in both
 * event names counts once.
 */
export async function workerThreadCpu(browser: Browser, act: () => Promise<void>): Promise<number> {
  await browser.startTracing(undefined, { categories: ['toplevel', '__metadata'] })
  let trace: Buffer
  try {
    await act()
  } finally {
    trace = await browser.stopTracing()
  }
  const events = (JSON.parse(trace.toString()) as { traceEvents: TraceEvent[] }).traceEvents
  const workerThreads = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === WORKER_THREAD).map((e) => `${e.pid}:${e.tid}`))
  const tasks = events
    .filter((e) => e.ph === 'X' && TASK_EVENTS.has(e.name) && workerThreads.has(`${e.pid}:${e.tid}`))
    .sort((a, b) => a.pid - b.pid || a.tid - b.tid || a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0))
  // A silent zero would read as a free worker.
  if (workerThreads.size === 0) throw new Error(`no "${WORKER_THREAD}" in the trace`)
  if (!tasks.some((task) => task.tdur !== undefined)) throw new Error('the trace has no thread CPU times (tdur)')
  let cpuUs = 0
  let outer: TraceEvent | null = null
  for (const task of tasks) {
    const inside = outer && outer.pid === task.pid && outer.tid === task.tid && task.ts + (task.dur ?? 0) <= outer.ts + (outer.dur ?? 0)
    if (inside) continue
    outer = task
    cpuUs += task.tdur ?? 0
  }
  return cpuUs / 1000
}
