/**
 * Chromium through Playwright (Debian's /usr/bin/chromium, launched with the
 * config's launchOptions): one browser per test worker, a new context (a
 * fresh profile: no worker, cache or storage of another test) per session.
 */
import type { Browser, BrowserContext, BrowserType, LaunchOptions, Page } from '@playwright/test'
import type { BrowserSession, EngineLauncher, PageFunction, Tab } from './engine'

/** A Playwright page as a Tab, so helpers written for the scenarios serve the Chromium-only specs too. */
export function playwrightTab(page: Page): Tab {
  return {
    evaluate: <R, A>(fn: PageFunction<A, R>, arg?: A) => page.evaluate(fn as (arg: unknown) => R | Promise<R>, arg) as Promise<R>,
    goto: async (url) => {
      await page.goto(url)
    },
    reload: async () => {
      await page.reload()
    },
    waitFor: async (fn, arg, options = {}) => {
      try {
        await page.waitForFunction(fn as (arg: unknown) => unknown, arg, { timeout: options.timeout ?? 10_000 })
      } catch (error) {
        throw new Error(`${options.message ?? 'page condition'}: ${String(error)}`)
      }
    },
    screenshot: (file) => page.screenshot(file ? { path: file } : {}),
    close: () => page.close(),
  }
}

export async function launchChromium(chromium: BrowserType, launchOptions: LaunchOptions): Promise<EngineLauncher> {
  const browser: Browser = await chromium.launch(launchOptions)
  return {
    engine: 'chromium',
    newSession: async () => {
      const context: BrowserContext = await browser.newContext({ serviceWorkers: 'allow' })
      const tabs: Tab[] = []
      return {
        engine: 'chromium',
        tabs,
        open: async (url) => {
          const page = await context.newPage()
          const tab = playwrightTab(page)
          tabs.push(tab)
          page.once('close', () => tabs.splice(tabs.indexOf(tab), 1))
          await tab.goto(url)
          return tab
        },
        close: () => context.close(),
      } satisfies BrowserSession
    },
    close: () => browser.close(),
  }
}
