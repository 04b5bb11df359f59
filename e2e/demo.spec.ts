import { expect, test } from '@playwright/test'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

let demo: ChildProcess
let siteUrl: string
let ports: number[] = []
let dataDir: string

// The demo exactly as `npm start` runs it (after the build), on free ports and its own data folder.
test.beforeAll(async () => {
  const [sitePort, backendPort] = [await freePort(), await freePort()]
  ports = [sitePort, backendPort]
  dataDir = mkdtempSync(path.join(tmpdir(), 'pixstore-demo-e2e-'))
  demo = spawn(process.execPath, ['demo/start.js'], {
    cwd: ROOT,
    env: { ...process.env, DEMO_PORT: String(sitePort), PIXSTORE_PORT: String(backendPort), PIXSTORE_DEMO_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${output}`)), 20_000)
    demo.stdout!.on('data', (chunk) => {
      output += chunk
      if (output.includes('Demo gallery:')) {
        clearTimeout(timer)
        resolve()
      }
    })
    demo.stderr!.on('data', (chunk) => (output += chunk))
    demo.once('exit', (code) => reject(new Error(`demo exited with ${code}:\n${output}`)))
  })
  expect(output).toContain(`"statelessProof"`)
  siteUrl = `http://localhost:${sitePort}/`
})

test.afterAll(async () => {
  demo?.kill('SIGTERM')
  if (demo && demo.exitCode === null) await new Promise((resolve) => demo.once('exit', resolve))
  rmSync(dataDir, { recursive: true, force: true })
})

test('npm start: the gallery shows every sample, and Replace shows the new picture', async ({ page }) => {
  await page.goto(siteUrl)
  const images = page.locator('#gallery img')
  await expect.poll(() => images.count()).toBeGreaterThanOrEqual(12)
  await expect
    .poll(() => images.evaluateAll((all) => all.filter((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0).length))
    .toBe(await images.count())

  const first = images.first()
  // What the <img> shows, as pixels: empty while it is loading.
  const pixels = () =>
    first.evaluate((img: HTMLImageElement) => {
      if (!img.complete || img.naturalWidth === 0) return ''
      const canvas = document.createElement('canvas')
      canvas.width = img.naturalWidth
      canvas.height = img.naturalHeight
      canvas.getContext('2d')!.drawImage(img, 0, 0)
      return canvas.toDataURL()
    })
  const src = () => first.evaluate((img: HTMLImageElement) => new URL(img.src).searchParams.get('v'))
  const srcBefore = await src()
  expect(srcBefore, 'the demo writes imageUrl(record): a versioned URL').toMatch(/^\d+$/)
  const caption = page.locator('#gallery figure').first().locator('figcaption span')
  const [beforePixels, beforeCaption] = [await pixels(), await caption.textContent()]
  expect(beforePixels).not.toBe('')
  await page.locator('#gallery figure').first().getByRole('button', { name: 'Replace' }).click()
  await expect.poll(async () => { const now = await pixels(); return now !== '' && now !== beforePixels }).toBe(true)
  await expect(caption).not.toHaveText(beforeCaption!)
  expect(await src(), 'the page module moved the <img> to the new version').not.toBe(srcBefore)

  // The refresh endpoint behind refreshRecords: fresh records for known ids, unknown ones left out.
  const id = await first.evaluate((img: HTMLImageElement) => new URL(img.src).pathname.split('/').pop()!)
  const refreshed = await page.evaluate(async (known) => (await fetch(`/api/records?ids=${known},no-such-image`)).json(), id)
  expect(refreshed.map((record: { id: string }) => record.id)).toEqual([id])
})

/** The local addresses (hex, as the kernel lists them) of the TCP sockets listening on `port` (Linux /proc). */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === '0A' && fields[1]?.endsWith(`:${hexPort}`)) // 0A: LISTEN
      .map((fields) => fields[1]!.split(':')[0]!),
  )
}

test('npm start listens on 127.0.0.1 only (site and endpoint) unless DEMO_HOST says otherwise', () => {
  for (const port of ports) expect(listeningAddresses(port), `port ${port}`).toEqual(['0100007F'])
})
