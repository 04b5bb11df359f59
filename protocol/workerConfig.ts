/**
 * Where the worker finds the backend. Not secret, so the page also writes it
 * into the worker's script URL: a worker restarted by the browser reads it
 * from `self.location` before any page has spoken to it.
 */
export interface WorkerConfig {
  /** e.g. `https://api.example.com:7482` */
  backendOrigin: string
  /** e.g. `/pixstore-image` */
  route: string
}

export function workerScriptUrl(scriptUrl: string, config: WorkerConfig, base: string): string {
  const url = new URL(scriptUrl, base)
  url.searchParams.set('backend', config.backendOrigin)
  url.searchParams.set('route', config.route)
  return url.href
}

export function workerConfigFromScriptUrl(scriptUrl: string): WorkerConfig | null {
  const params = new URL(scriptUrl).searchParams
  const backendOrigin = params.get('backend')
  const route = params.get('route')
  return backendOrigin && route ? { backendOrigin, route } : null
}
