// Memory under clients that never read, as issue 16 measured it: `pixstore serve` of <repo dir>
// (default memoryCacheBytes, 64 MiB), <images> distinct 10 MB images, <clients> sockets each asking
// for one and reading nothing. Prints the server's RSS idle, at peak, at the end of the hold, and later.
// usage: node --import tsx bench/hostile/memory.ts <repo dir> [clients=60] [images=20] [holdMs=25000] [laterMs=0] [chunked]
// (`chunked`: the clients ask for chunked answers, as our worker does, so every answer is transcoded)
import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
const repo = path.resolve(process.argv[2] ?? '.')
const clients = Number(process.argv[3] ?? 60), imageCount = Number(process.argv[4] ?? 20), holdMs = Number(process.argv[5] ?? 25000)
const { PixstoreBackend } = await import(path.join(repo, 'server/backend.ts'))
// Test support moved to testing/ in issue 16; older checkouts (for before/after figures) keep it in bench/.
const { makePng } = await import(path.join(repo, existsSync(path.join(repo, 'testing/images.ts')) ? 'testing/images.ts' : 'bench/images.ts'))
const dir = mkdtempSync(path.join(tmpdir(), 'measure-'))
const config = { imageRootDir: path.join(dir, 'images'), databasePath: path.join(dir, 'db.sqlite') }
const secret = 'pixstore-test-secret-0123456789abcdef'
const b = new PixstoreBackend({ ...config, statelessProofSecret: secret, statelessKeyWindowLength: 3600000, errorHandlingMode: 'throw' }, { env: {} })
const records = []
for (let i = 0; i < imageCount; i++) records.push(await b.saveImage(makePng(10 * 1024 * 1024, 100 + i)))
await b.close()
const cmd = [process.execPath, '--import', 'tsx', path.join(repo, 'cli/index.ts'), 'serve', '--image-root-dir', config.imageRootDir, '--database-path', config.databasePath, '--default-endpoint-listen-host', '127.0.0.1', '--default-endpoint-listen-port', '0', '--stateless-key-window-length', '3600000'].map((a) => `'${a}'`).join(' ')
const child = spawn('bash', ['-c', `exec ${cmd}`], { cwd: repo, env: { PATH: process.env.PATH!, PIXSTORE_SECRET: secret }, stdio: ['ignore', 'pipe', 'inherit'] })
const url: string = await new Promise((resolve) => { let out = ''; child.stdout!.on('data', (c) => { out += c; const m = /serving (http:\/\/\S+?)\/pixstore-image/.exec(out); if (m) resolve(m[1]!) }) })
const port = Number(new URL(url).port)
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024

await new Promise((r) => setTimeout(r, 1000))
const idle = rss()
const sockets: Socket[] = []
for (let i = 0; i < clients; i++) {
  const r = records[i % imageCount]
  const s = connect(port, '127.0.0.1')
  s.on('error', () => {})
  s.pause()
  s.write(`GET /pixstore-image/${r.id}?pixstore-proof=${encodeURIComponent(r.statelessProof)}&pixstore-token=${r.token}${process.argv[7] === 'chunked' ? '&pixstore-chunked=1' : ''} HTTP/1.1\r\nHost: x\r\n\r\n`)
  sockets.push(s)
}
let peak = 0
const t0 = Date.now()
let closedByServer = 0
for (const s of sockets) s.once('close', () => closedByServer++)
while (Date.now() - t0 < holdMs) { peak = Math.max(peak, rss()); await new Promise((r) => setTimeout(r, 200)) }
const held = rss()
// after: wait past responseTimeout (30 s) if asked
const after = Number(process.argv[6] ?? 0)
let later = null
if (after) { await new Promise((r) => setTimeout(r, after)); later = rss() }
console.log(JSON.stringify({ clients, images: imageCount, idleRssMB: idle.toFixed(0), peakRssMB: peak.toFixed(0), rssAtHoldEndMB: held.toFixed(0), rssLaterMB: later?.toFixed(0), laterAfterMs: after }))
child.kill('SIGTERM')
for (const s of sockets) s.destroy()
process.exit(0)
