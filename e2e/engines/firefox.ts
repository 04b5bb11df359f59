/**
 * Firefox ESR (Debian's /usr/bin/firefox-esr) through puppeteer-core over
 * WebDriver BiDi: no geckodriver, no browser download. Each session is a new
 * headless Firefox with a new temporary profile (puppeteer removes it on close).
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { pollPage, type BrowserSession, type EngineLauncher, type PageFunction, type Tab } from './engine'

export const FIREFOX = '/usr/bin/firefox-esr'

/**
 * Firefox stops a service worker idle for 30 s (plus a grace period). A
 * scenario tests what a running worker does (e.g. `persist: false` keeps
 * images in its memory); on a loaded machine a test can pause that long
 * between two images, so the idle stop is moved past any test's timeout.
 * What a stopped worker does is tested in Chromium (cache.spec.ts, through CDP).
 */
const PREFS = {
  'dom.serviceWorkers.idle_timeout': 10 * 60_000,
  'dom.serviceWorkers.idle_extended_timeout': 10 * 60_000,
}

function puppeteerTab(page: Page, activate: (page: Page) => Promise<void>): Tab {
  const tab: Tab = {
    evaluate: async <R, A>(fn: PageFunction<A, R>, arg?: A) => {
      await activate(page)
      return (await page.evaluate(fn as (arg: unknown) => R | Promise<R>, arg)) as R
    },
    goto: async (url) => {
      await activate(page)
      await page.goto(url, { waitUntil: 'load' })
    },
    reload: async () => {
      await activate(page)
      await page.reload({ waitUntil: 'load' })
    },
    waitFor: (fn, arg, options) => pollPage(tab, fn, arg, options),
    screenshot: async (file) => {
      await activate(page)
      return Buffer.from(await page.screenshot(file ? { path: file as `${string}.png` } : {}))
    },
    close: () => page.close(),
  }
  return tab
}

export async function launchFirefox(): Promise<EngineLauncher> {
  return {
    engine: 'firefox',
    newSession: async () => {
      const browser: Browser = await puppeteer.launch({
        browser: 'firefox',
        executablePath: FIREFOX,
        headless: true,
        extraPrefsFirefox: PREFS,
      })
      const tabs: Tab[] = []
      let front: Page | undefined
      // The tab a test acts on is the selected one, as for a user (a background tab may be throttled).
      const activate = async (page: Page) => {
        if (front === page) return
        await page.bringToFront()
        front = page
      }
      const blank = (await browser.pages())[0]
      return {
        engine: 'firefox',
        tabs,
        open: async (url) => {
          const page = tabs.length === 0 && blank ? blank : await browser.newPage()
          const tab = puppeteerTab(page, activate)
          tabs.push(tab)
          page.once('close', () => tabs.splice(tabs.indexOf(tab), 1))
          await tab.goto(url)
          return tab
        },
        close: () => browser.close(),
      } satisfies BrowserSession
    },
    close: async () => {},
  }
}
