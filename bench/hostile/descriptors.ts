// Descriptors of streamed answers, as issue 16 measured it: 70 sockets pipelining 5 GETs each for a
// streamed 3 MB image, reset mid-answer. Prints the version files open during, 2 s after the resets,
// after a GC, and the DEP0137 ("closing file descriptor on garbage collection") warnings.
// usage: node --expose-gc --import tsx bench/hostile/descriptors.ts <repo dir>
import { connect, type Socket } from 'node:net'
import { existsSync, mkdtempSync, readdirSync, readlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
const repo = path.resolve(process.argv[2] ?? '.')
const { PixstoreBackend } = await import(path.join(repo, 'server/backend.ts'))
const { createDefaultEndpointServer } = await import(path.join(repo, 'server/endpoint.ts'))
// Test support moved to testing/ in issue 16; older checkouts (for before/after figures) keep it in bench/.
const { makePng } = await import(path.join(repo, existsSync(path.join(repo, 'testing/images.ts')) ? 'testing/images.ts' : 'bench/images.ts'))
const dir = mkdtempSync(path.join(tmpdir(), 'measure-'))
const root = path.join(dir, 'images')
const b = new PixstoreBackend({ imageRootDir: root, databasePath: path.join(dir, 'db.sqlite'), statelessProofSecret: 'pixstore-test-secret-0123456789abcdef', errorHandlingMode: 'throw', memoryCacheBytes: 400 * 1024 }, { env: {} })
await b.open()
const r = await b.saveImage(makePng(3 * 1024 * 1024, 1))
let warnings = 0
process.on('warning', (w) => { if (/garbage collection/.test(w.message)) warnings++ })
const server = createDefaultEndpointServer(b).listen(0, '127.0.0.1')
await new Promise((res) => server.once('listening', res))
const port = server.address().port
const openFiles = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(root) } catch { return false } }).length
const get = `GET /pixstore-image/${r.id}?pixstore-proof=${encodeURIComponent(r.statelessProof)}&pixstore-token=${r.token} HTTP/1.1\r\nHost: x\r\n\r\n`
const sockets: Socket[] = await Promise.all(Array.from({ length: 70 }, () => new Promise<Socket>((resolve) => { const s = connect(port, '127.0.0.1', () => s.write(get.repeat(5))); s.once('data', () => { s.pause(); resolve(s) }) })))
const during = openFiles()
for (const s of sockets) s.resetAndDestroy()
await new Promise((res) => setTimeout(res, 2000))
const after2s = openFiles()
;(globalThis as any).gc()
await new Promise((res) => setTimeout(res, 500))
console.log(JSON.stringify({ sockets: 70, pipelinedEach: 5, versionFilesOpenDuring: during, openTwoSecondsAfterReset: after2s, openAfterGc: openFiles(), dep0137Warnings: warnings }))
process.exit(0)
