/**
 * nginx for tests and the bench, as an operator runs it: its own config,
 * port, pid, logs and temp paths in a temp dir, stopped afterwards. Two
 * shapes: a load balancer in front of Pixstore instances, and a static file
 * server (the baseline a file server sets).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { freePort } from './freePort'
import { giveTo } from './runAs'

const NGINX = '/usr/sbin/nginx'
/** The unprivileged user nginx's workers run as when we are root (Debian's). */
const WORKER_USER = 'www-data'

export const nginxUnavailable = (): string | null => (existsSync(NGINX) ? null : `${NGINX} is missing (Debian package \`nginx\`)`)

export class Nginx {
  private exited: Promise<void>

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    live.add(this)
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** GETs that fail on one instance (refused, reset, timeout, 502-504) are retried on the next (`proxy_next_upstream`). */
  static balancer(upstreamPorts: number[]): Promise<Nginx> {
    return Nginx.start(
      1,
      (port) => `
  upstream pixstore {
${upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://pixstore;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 2s;
      # nginx never retries non-idempotent methods unless told to, so this retries GETs only.
      proxy_next_upstream error timeout http_502 http_503 http_504;
      proxy_next_upstream_tries 3;
    }
  }`,
    )
  }

  /** Copies of `files` (URL path -> source file) served with sendfile by one worker per core. */
  static staticFiles(files: Record<string, string>): Promise<Nginx> {
    return Nginx.start(
      'auto',
      (port, dir) => `
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/root;
    location / { add_header Cache-Control no-store; }
  }`,
      (dir) => {
        for (const [urlPath, source] of Object.entries(files)) {
          const target = path.join(dir, 'root', urlPath)
          mkdirSync(path.dirname(target), { recursive: true })
          copyFileSync(source, target)
          chmodSync(target, 0o644)
        }
      },
    )
  }

  private static async start(workers: number | 'auto', httpBlock: (port: number, dir: string) => string, prepare?: (dir: string) => void): Promise<Nginx> {
    const dir = mkdtempSync(path.join(tmpdir(), 'pixstore-nginx-'))
    chmodSync(dir, 0o755) // workers run unprivileged and must reach the files
    const temp = path.join(dir, 'temp')
    mkdirSync(temp)
    prepare?.(dir)
    const port = await freePort()
    const root = userInfo().uid === 0
    if (root) giveTo(WORKER_USER, temp)
    const config = `
${root ? `user ${WORKER_USER};` : ''}
worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
${httpBlock(port, dir)}
}
`
    const file = path.join(dir, 'nginx.conf')
    writeFileSync(file, config)
    const child = spawn(NGINX, ['-p', dir, '-c', file, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    const nginx = new Nginx(dir, port, child)
    try {
      await waitUntilListening(port, child, () => stderr + safeRead(path.join(dir, 'error.log')))
    } catch (error) {
      await nginx.stop()
      throw error
    }
    return nginx
  }

  /** Master and worker pids, for CPU accounting. */
  pids(): number[] {
    try {
      return [this.child.pid!, ...execFileSync('pgrep', ['-P', String(this.child.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)]
    } catch {
      return [this.child.pid!]
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGQUIT') // graceful: finishes open requests
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
      await this.exited
      clearTimeout(timer)
    }
    rmSync(this.dir, { recursive: true, force: true })
    live.delete(this)
  }

  killSync(): void {
    this.child.kill('SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

async function waitUntilListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${log()}`)
    try {
      await fetch(`http://127.0.0.1:${port}/`)
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  throw new Error(`nginx did not listen on ${port} within 10 s: ${log()}`)
}

const live = new Set<Nginx>()
process.on('exit', () => {
  for (const balancer of live) balancer.killSync()
})
