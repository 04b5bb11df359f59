import { defineConfig } from '@playwright/test'
import type { EngineOptions } from './e2e/engines'

/**
 * End-to-end suite: real Koa backend + real service worker in real browsers.
 * Runs against the built dist/ (`npm run build` first); `scripts/ensure-debian-packages.sh`
 * makes sure Debian's chromium, firefox-esr, webkit2gtk-driver and xvfb exist (and
 * PostgreSQL and nginx for the balancer spec). Playwright's own browser download is not used.
 *
 * Projects: `chromium` runs the Chromium-only specs (`*.spec.ts`, Playwright pages,
 * some through CDP) and the cross-engine scenarios (`scenarios/*.scenario.ts`);
 * `firefox` and `webkit` run the scenarios, through the drivers in e2e/engines/.
 */
export default defineConfig<EngineOptions>({
  testDir: 'e2e',
  outputDir: 'test-results',
  // Two cores: one file per worker, tests inside a file in order (each file owns one backend).
  workers: 2,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 45_000,
  // Measured: the whole run (121 tests, three engines) takes 5.3-6.4 min on 2 busy cores, 12.1 min with a build and the unit suite running beside it.
  globalTimeout: 15 * 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list', { printSteps: false }]],
  projects: [
    { name: 'chromium', testMatch: ['**/*.spec.ts', 'scenarios/*.scenario.ts'], use: { engineName: 'chromium' } },
    // A new browser per test: its start counts in the test's time.
    { name: 'firefox', testMatch: 'scenarios/*.scenario.ts', use: { engineName: 'firefox' }, timeout: 60_000 },
    { name: 'webkit', testMatch: 'scenarios/*.scenario.ts', use: { engineName: 'webkit' }, timeout: 60_000 },
  ],
  use: {
    browserName: 'chromium',
    headless: true,
    serviceWorkers: 'allow',
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
})
