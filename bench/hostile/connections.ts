// Connection exhaustion, as issue 16 measured it: `pixstore serve` of the checkout at <repo dir>
// under `ulimit -n 1024`; 1,100 half-open connections (a head that never ends), then real requests
// until one is answered; then a slow-loris body (one byte every 5 s). Prints the times.
// usage: node --import tsx bench/hostile/connections.ts <repo dir>   (e.g. `.`, or `git archive <rev>` unpacked with node_modules linked)
import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
const repo = path.resolve(process.argv[2] ?? '.')
const { PixstoreBackend } = await import(path.join(repo, 'server/backend.ts'))
const dir = mkdtempSync(path.join(tmpdir(), 'measure-'))
const config = { imageRootDir: path.join(dir, 'images'), databasePath: path.join(dir, 'db.sqlite') }
const secret = 'pixstore-test-secret-0123456789abcdef'
const b = new PixstoreBackend({ ...config, statelessProofSecret: secret, statelessKeyWindowLength: 3600000, errorHandlingMode: 'throw' }, { env: {} })
const record = await b.saveImage(readFileSync(path.join(repo, 'fixtures/images/checkerboard-red-blue.png')))
await b.close()
const cmd = [process.execPath, '--import', 'tsx', path.join(repo, 'cli/index.ts'), 'serve', '--image-root-dir', config.imageRootDir, '--database-path', config.databasePath, '--default-endpoint-listen-host', '127.0.0.1', '--default-endpoint-listen-port', '0', '--stateless-key-window-length', '3600000'].map((a) => `'${a}'`).join(' ')
const child = spawn('bash', ['-c', `ulimit -n 1024 && exec ${cmd}`], { cwd: repo, env: { PATH: process.env.PATH!, PIXSTORE_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] })
let stderrBytes = 0
child.stderr!.on('data', (c) => (stderrBytes += c.length))
const url: string = await new Promise((resolve) => { let out = ''; child.stdout!.on('data', (c) => { out += c; const m = /serving (http:\/\/\S+?)\/pixstore-image/.exec(out); if (m) resolve(m[1]!) }) })
const port = Number(new URL(url).port)
const real = async () => { try { const r = await fetch(`${url}/pixstore-image/${record.id}`, { headers: { 'x-pixstore-proof': record.statelessProof, 'x-pixstore-token': String(record.token), connection: 'close' }, signal: AbortSignal.timeout(5000) }); return new Uint8Array(await r.arrayBuffer())[0] } catch { return null } }
const open = () => new Promise<Socket | null>((resolve) => { const s = connect(port, '127.0.0.1'); s.once('connect', () => resolve(s)); s.once('error', () => resolve(null)) })
console.log('before attack:', await real())
let t0 = Date.now()
const sockets = (await Promise.all(Array.from({ length: 1100 }, open))).filter(Boolean) as Socket[]
let closedCount = 0
for (const s of sockets) { s.on('error', () => {}); s.resume(); s.on('close', () => closedCount++); s.write('GET /pixstore-image/x HTTP/1.1\r\nHost: x\r\n') }
let firstOk: number | null = null, failures = 0
while (Date.now() - t0 < 200_000) {
  const st = await real()
  if (st === 0) { firstOk ??= Date.now() - t0; if (closedCount === sockets.length) break } else failures++
  await new Promise((r) => setTimeout(r, 100))
}
console.log(`half-open: ${sockets.length} connected; first real answer after ${firstOk} ms (${failures} failed tries); ${closedCount} closed by server after ${Date.now() - t0} ms`)
for (const s of sockets) s.destroy()
// slow-loris
const s = (await open())!
s.on('error', () => {}); s.resume()
t0 = Date.now()
s.write(`GET /pixstore-image/${record.id} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`)
let sent = 0
const drip = setInterval(() => { if (!s.destroyed) s.write('x', () => sent++) }, 5000)
const outcome = await new Promise<string>((resolve) => { s.once('close', () => resolve(`closed by server after ${Date.now() - t0} ms (${sent} body bytes)`)); setTimeout(() => resolve(`still open after ${Date.now() - t0} ms (${sent} body bytes)`), 150_000) })
clearInterval(drip)
console.log('slow-loris:', outcome)
console.log('server stderr bytes:', stderrBytes)
child.kill('SIGTERM')
s.destroy()
process.exit(0)
