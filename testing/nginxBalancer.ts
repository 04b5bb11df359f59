/**
 * nginx as the load balancer in front of several Pixstore instances, for
 * tests and the bench: its own config, port, pid, logs and temp paths in a
 * temp dir. GETs that fail on one instance (refused, reset, timeout, 502-504)
 * are retried on the next (`proxy_next_upstream`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { freePort } from './freePort'
import { giveTo } from './runAs'

const NGINX = '/usr/sbin/nginx'
/** The unprivileged user nginx's workers run as when we are root (Debian's). */
const WORKER_USER = 'www-data'

export class NginxBalancer {
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

  static async start(upstreamPorts: number[]): Promise<NginxBalancer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'pixstore-nginx-'))
    const temp = path.join(dir, 'temp')
    mkdirSync(temp)
    const port = await freePort()
    const root = userInfo().uid === 0
    if (root) giveTo(WORKER_USER, temp)
    const config = `
${root ? `user ${WORKER_USER};` : ''}
worker_processes 1;
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
  }
}
`
    const file = path.join(dir, 'nginx.conf')
    writeFileSync(file, config)
    const child = spawn(NGINX, ['-p', dir, '-c', file, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    const balancer = new NginxBalancer(dir, port, child)
    try {
      await waitUntilListening(port, child, () => stderr + safeRead(path.join(dir, 'error.log')))
    } catch (error) {
      await balancer.stop()
      throw error
    }
    return balancer
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

const live = new Set<NginxBalancer>()
process.on('exit', () => {
  for (const balancer of live) balancer.killSync()
})
