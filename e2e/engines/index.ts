/**
 * The Playwright fixtures of the cross-engine scenarios (`e2e/scenarios/*.scenario.ts`):
 * the project (`chromium`, `firefox`, `webkit` in playwright.config.ts) picks
 * the engine; each test gets `session`, a fresh browser session of it. On a
 * failure every open tab's screenshot is attached to the report.
 */
import { test as base } from '@playwright/test'
import { launchChromium } from './chromium'
import type { BrowserSession, EngineLauncher, EngineName } from './engine'
import { launchFirefox } from './firefox'
import { launchWebKit } from './webkit'

export { expect } from '@playwright/test'
export type { BrowserSession, EngineName, Tab } from './engine'

export interface EngineOptions {
  /** Which engine this project's scenarios run in. */
  engineName: EngineName
}

export const test = base.extend<{ session: BrowserSession }, EngineOptions & { /** Starts more sessions of this engine (a second browser, a second user). */ launcher: EngineLauncher }>({
  engineName: ['chromium', { option: true, scope: 'worker' }],
  launcher: [
    async ({ engineName, playwright, launchOptions }, use) => {
      const launcher =
        engineName === 'chromium' ? await launchChromium(playwright.chromium, launchOptions) : engineName === 'firefox' ? await launchFirefox() : await launchWebKit()
      await use(launcher)
      await launcher.close()
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  session: async ({ launcher }, use, testInfo) => {
    const session = await launcher.newSession()
    try {
      await use(session)
      if (testInfo.status !== testInfo.expectedStatus) {
        for (const [i, tab] of session.tabs.entries()) {
          const body = await tab.screenshot().catch(() => null)
          if (body) await testInfo.attach(`tab ${i + 1} (${launcher.engine})`, { body, contentType: 'image/png' })
        }
      }
    } finally {
      await session.close()
    }
  },
})
