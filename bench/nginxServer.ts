// nginx (Debian package `nginx`) serving a folder as static files: the limit a
// file server reaches on this machine. Its own config, pid, logs and temp
// paths in a temp dir, a free port, stopped afterwards.
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((candidate) => existsSync(candidate))

export function nginxUnavailable(): string | null {
  return NGINX ? null : 'nginx is not installed (Debian package `nginx`)'
}

export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface NginxServer {
  origin: string
  /** Master and worker pids, for CPU accounting. */
  pids(): number[]
  close(): Promise<void>
}

/** Serves copies of `files` (URL path -> source file) with sendfile, as an operator would serve static images. */
export async function startNginx(files: Record<string, string>): Promise<NginxServer> {
  if (!NGINX) throw new Error(nginxUnavailable()!)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pixstore-nginx-'))
  chmodSync(dir, 0o755) // the workers run as an unprivileged user
  const root = path.join(dir, 'root')
  for (const [urlPath, source] of Object.entries(files)) {
    const target = path.join(root, urlPath)
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 })
    copyFileSync(source, target)
    chmodSync(target, 0o644)
  }
  const port = await freePort()
  const config = path.join(dir, 'nginx.conf')
  writeFileSync(
    config,
    `worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  default_type application/octet-stream;
  server { listen 127.0.0.1:${port}; root ${root}; location / { add_header Cache-Control no-store; } }
}
`,
  )
  const child = spawn(NGINX, ['-c', config, '-p', dir], { stdio: 'ignore' })
  const started = Date.now()
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${readFileSync(path.join(dir, 'error.log'), 'utf8')}`)
    if (Date.now() - started > 10_000) throw new Error('nginx did not listen within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    pids: () => [child.pid!, ...childPids(child.pid!)],
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGQUIT')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** user + system CPU of processes so far, in microseconds (from /proc). */
export function processCpuMicros(pids: number[]): number {
  const ticks = pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return sum + Number(fields[11]) + Number(fields[12])
    } catch {
      return sum
    }
  }, 0)
  return (ticks * 1e6) / 100 // USER_HZ is 100 on Linux
}
