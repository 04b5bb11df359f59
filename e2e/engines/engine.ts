/**
 * The one small driver interface the cross-engine scenarios are written
 * against. Playwright drives Debian's Chromium; it cannot drive Debian's
 * Firefox ESR or WebKitGTK, so each engine has its own maintained driver
 * (chromium.ts: Playwright, firefox.ts: puppeteer-core over WebDriver BiDi,
 * webkit.ts: selenium-webdriver through WebKitWebDriver) behind this.
 *
 * Only what every driver does the same way is here: functions run in the page
 * as source text (no closures over Node values), arguments and results are
 * plain JSON-like values.
 */

export type EngineName = 'chromium' | 'firefox' | 'webkit'

/** A function run in the page: self-contained, its argument and result JSON-like. */
export type PageFunction<A, R> = (arg: A) => R | Promise<R>

/** One tab (a top-level page) of a browser session. */
export interface Tab {
  /** Runs `fn(arg)` in the page and resolves with its (awaited) result; a throw in the page rejects. */
  evaluate<R, A = undefined>(fn: PageFunction<A, R>, arg?: A): Promise<R>
  /** Navigates and resolves after the page's load event. */
  goto(url: string): Promise<void>
  /** Reloads and resolves after the page's load event. */
  reload(): Promise<void>
  /** Resolves once `fn(arg)` is truthy in the page; rejects with `message` after `timeout` ms (default 10 s). */
  waitFor<A = undefined>(fn: PageFunction<A, unknown>, arg?: A, options?: { timeout?: number; message?: string }): Promise<void>
  /** A PNG of the viewport, also written to `file` when given. */
  screenshot(file?: string): Promise<Buffer>
  close(): Promise<void>
}

/**
 * One browser session with a fresh profile: service workers, Cache Storage
 * and IndexedDB start empty and die with it. Its tabs share that profile
 * (one origin, one worker, as two tabs of one user).
 */
export interface BrowserSession {
  readonly engine: EngineName
  /** Opens `url` in a new tab of this session, after its load event. */
  open(url: string): Promise<Tab>
  /** The tabs open now. */
  readonly tabs: readonly Tab[]
  close(): Promise<void>
}

/** Starts sessions of one engine; lives as long as a test worker (drivers, X server). */
export interface EngineLauncher {
  readonly engine: EngineName
  newSession(): Promise<BrowserSession>
  close(): Promise<void>
}

/**
 * `waitFor` for drivers without a native one: asks the page every 100 ms.
 * The condition is an event the page records (a flag, a count), so the wait
 * ends when it happens, whatever the machine's load.
 */
export async function pollPage<A>(tab: Pick<Tab, 'evaluate'>, fn: PageFunction<A, unknown>, arg: A | undefined, options: { timeout?: number; message?: string } = {}): Promise<void> {
  const { timeout = 10_000, message = `page condition ${fn.toString().slice(0, 120)}` } = options
  const deadline = Date.now() + timeout
  for (;;) {
    if (await tab.evaluate(fn, arg)) return
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for: ${message}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Runs tasks one at a time (a WebDriver session has one current window). */
export function serialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(task: () => Promise<T>) => {
    const run = tail.then(task, task)
    tail = run.catch(() => undefined)
    return run
  }
}
