/**
 * WebKitGTK (Debian's webkit2gtk-driver) through selenium-webdriver and
 * /usr/bin/WebKitWebDriver, which starts MiniBrowser in automation mode.
 * MiniBrowser needs an X display: each test worker starts its own Xvfb (on a
 * display it picks itself, `-displayfd`); each session is its own
 * WebKitWebDriver and a new MiniBrowser with an ephemeral profile (nothing on
 * disk, nothing shared with another session).
 *
 * WebDriver has one current window per session, so every call switches to
 * its tab first and calls run one at a time: a function evaluated in one tab
 * must not wait for something another tab does.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import type { Readable } from 'node:stream'
import { existsSync, readdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { Builder, type WebDriver } from 'selenium-webdriver'
import { pollPage, serialQueue, type BrowserSession, type EngineLauncher, type PageFunction, type Tab } from './engine'

export const WEBKIT_WEBDRIVER = '/usr/bin/WebKitWebDriver'
/** Debian puts MiniBrowser under the architecture's library folder. */
export const MINIBROWSER =
  readdirSync('/usr/lib', { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `/usr/lib/${entry.name}/webkit2gtk-4.1/MiniBrowser`)
    .find((file) => existsSync(file)) ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser'

const SCRIPT_TIMEOUT_MS = 60_000

/** A test worker that ends without its teardown (a crash, a global timeout) leaves no X server or driver behind. */
function killOnExit(child: ChildProcess): void {
  const kill = () => child.kill()
  process.once('exit', kill)
  child.once('exit', () => process.off('exit', kill))
}

/** Starts Xvfb on a free display; resolves with ":N" once it accepts clients. */
async function startXvfb(): Promise<{ display: string; process: ChildProcess }> {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] })
  killOnExit(xvfb)
  let stderr = ''
  xvfb.stderr!.on('data', (chunk) => (stderr += chunk))
  const display = await new Promise<string>((resolve, reject) => {
    let out = ''
    ;(xvfb.stdio[3] as Readable).on('data', (chunk) => {
      out += chunk
      if (out.includes('\n')) resolve(`:${out.trim()}`)
    })
    xvfb.once('error', reject)
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited with ${code}: ${stderr}`)))
  })
  return { display, process: xvfb }
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts WebKitWebDriver on a free port; resolves once it answers /status. */
async function startWebDriver(display: string): Promise<{ url: string; process: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const driver = spawn(WEBKIT_WEBDRIVER, [`--port=${port}`, '--host=127.0.0.1'], { env: { ...process.env, DISPLAY: display }, stdio: 'ignore' })
    killOnExit(driver)
    const exited = new Promise<'exited'>((resolve) => driver.once('exit', () => resolve('exited')))
    const url = `http://127.0.0.1:${port}`
    for (;;) {
      const ready = await Promise.race([
        fetch(`${url}/status`).then((response) => response.ok, () => false),
        exited,
      ])
      if (ready === true) return { url, process: driver }
      if (ready === 'exited') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    if (attempt === 3) throw new Error(`${WEBKIT_WEBDRIVER} did not start (3 attempts)`)
  }
}

function seleniumTab(driver: WebDriver, handle: string, run: <T>(task: () => Promise<T>) => Promise<T>): Tab {
  const inTab = <T>(task: () => Promise<T>) =>
    run(async () => {
      if ((await driver.getWindowHandle()) !== handle) await driver.switchTo().window(handle)
      return task()
    })
  const tab: Tab = {
    evaluate: <R, A>(fn: PageFunction<A, R>, arg?: A) =>
      inTab(async () => {
        const result = (await driver.executeAsyncScript(
          `const input = arguments[0], done = arguments[arguments.length - 1];
Promise.resolve().then(() => (${fn.toString()})(input.hasArg ? input.arg : undefined)).then(
  (value) => done({ ok: true, isUndefined: value === undefined, value: value === undefined ? null : value }),
  (error) => done({ ok: false, error: String((error && error.stack) || error) }))`,
          { hasArg: arg !== undefined, arg: arg === undefined ? null : arg },
        )) as { ok: boolean; isUndefined?: boolean; value?: R; error?: string }
        if (!result.ok) throw new Error(`Error in the page: ${result.error}`)
        return (result.isUndefined ? undefined : result.value) as R
      }),
    goto: (url) => inTab(() => driver.get(url)),
    reload: () => inTab(() => driver.navigate().refresh()),
    waitFor: (fn, arg, options) => pollPage(tab, fn, arg, options),
    screenshot: (file) =>
      inTab(async () => {
        const png = Buffer.from(await driver.takeScreenshot(), 'base64')
        if (file) await writeFile(file, png)
        return png
      }),
    close: () => inTab(() => driver.close()),
  }
  return tab
}

export async function launchWebKit(): Promise<EngineLauncher> {
  const xvfb = await startXvfb()
  return {
    engine: 'webkit',
    // WebKitWebDriver serves one session at a time: each session has its own.
    newSession: async () => {
      const webDriver = await startWebDriver(xvfb.display)
      let driver: WebDriver
      try {
        driver = await new Builder()
          .usingServer(webDriver.url)
          .withCapabilities({
            browserName: 'MiniBrowser',
            'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
          })
          .build()
        await driver.manage().setTimeouts({ script: SCRIPT_TIMEOUT_MS })
      } catch (error) {
        webDriver.process.kill()
        throw error
      }
      const run = serialQueue()
      const tabs: Tab[] = []
      let firstWindowFree = true
      return {
        engine: 'webkit',
        tabs,
        open: async (url) => {
          // Each tab is its own window, so every tab is visible (none throttled as a background tab).
          const handle = await run(async () => {
            if (!firstWindowFree) await driver.switchTo().newWindow('window')
            firstWindowFree = false
            return driver.getWindowHandle()
          })
          const tab = seleniumTab(driver, handle, run)
          const close = tab.close
          tab.close = async () => {
            tabs.splice(tabs.indexOf(tab), 1)
            await close()
          }
          tabs.push(tab)
          await tab.goto(url)
          return tab
        },
        close: async () => {
          try {
            await run(() => driver.quit())
          } finally {
            webDriver.process.kill()
          }
        },
      } satisfies BrowserSession
    },
    close: async () => {
      xvfb.process.kill()
    },
  }
}
