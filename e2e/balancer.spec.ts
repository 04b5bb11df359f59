/**
 * A deployment as in the README: two Pixstore instances on one PostgreSQL
 * database, behind nginx. A page in Chromium shows images whose records came
 * from one instance while the balancer spreads the worker's fetches over both.
 */
import { readFileSync } from 'node:fs'
import { expect, test } from '@playwright/test'
import { startDeployment, type Deployment } from '../testing/deployment'
import { expectPicture, openAndInit, postRecords, routeSrc, showImage } from './browser'
import { fixturePath, startSite, type FixtureName, type Harness, type TestBackend, type TestSite } from './harness'

const NAMES: FixtureName[] = ['sunset-gradient.png', 'ocean-waves.jpg', 'lime-triangles.webp', 'pixel-heart.gif']

let deployment: Deployment
let site: TestSite

test.beforeAll(async () => {
  deployment = await startDeployment(2)
  site = await startSite()
})
test.afterAll(async () => {
  await site?.close()
  await deployment?.stop()
})

test('images saved on instance A, records from instance B, served through nginx by both', async ({ page }) => {
  const [a, b] = deployment.instances
  const saved = await Promise.all(NAMES.map((name) => a!.save(readFileSync(fixturePath(name)))))
  const records = await Promise.all(saved.map((record) => b!.record(record.id)))
  // The page talks only to the balancer: it is "the backend" for the frontend config.
  const balancer = { port: deployment.balancer.port, origin: deployment.balancer.url } as TestBackend
  const harness = { testPageUrl: (backend: TestBackend) => `${site.origin}/test.html?backend=${backend.port}` } as Harness
  const servedBefore = await Promise.all([a!.served(), b!.served()])

  await openAndInit(page, harness, balancer)
  await postRecords(page, records)
  for (const [i, name] of NAMES.entries()) {
    expect((await showImage(page, name, { src: routeSrc(records[i]!.id) })).ok, `${name} fires load, not error`).toBe(true)
    await expectPicture(page, name, name)
  }

  const servedAfter = await Promise.all([a!.served(), b!.served()])
  expect(servedAfter[0], 'instance A answered some of the fetches').toBeGreaterThan(servedBefore[0])
  expect(servedAfter[1], 'instance B answered some of the fetches').toBeGreaterThan(servedBefore[1])
})
