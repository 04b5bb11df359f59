import { defineConfig } from '@playwright/test'

/**
 * End-to-end suite: real Koa backend + real service worker in Debian's Chromium.
 * Runs against the built dist/ (`npm run build` first); `scripts/ensure-debian-packages.sh`
 * makes sure /usr/bin/chromium exists (and PostgreSQL and nginx for the balancer spec). Playwright's own browser download is not used.
 */
export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  // Two cores: one file per worker, tests inside a file in order (each file owns one backend).
  workers: 2,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 45_000,
  globalTimeout: 5 * 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list', { printSteps: false }]],
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
