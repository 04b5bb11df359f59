import { sendRequest, type PageRequests } from '../protocol/messages'
import { workerScriptUrl } from '../protocol/workerConfig'
import type { ResolvedFrontendConfig } from './config'

/**
 * Registers the worker with its config in the script URL (read again by a
 * restarted worker; a changed config is a changed URL, hence a new worker),
 * sends it the config and resolves once it has acknowledged and controls the
 * page. The worker claims the page in its `connect` answer, so a page loaded
 * before the worker existed (or hard-reloaded) is taken over without a reload.
 */
export async function registerWorker(container: ServiceWorkerContainer, config: ResolvedFrontendConfig, timeoutMs: number): Promise<ServiceWorkerRegistration> {
  let registration: ServiceWorkerRegistration
  try {
    registration = await container.register(workerScriptUrl(config.serviceWorkerUrl, config.worker, location.href), { scope: config.scope })
  } catch (error) {
    throw new Error(`Pixstore: registering the service worker ${config.serviceWorkerUrl} failed: ${error instanceof Error ? error.message : error}`)
  }
  const connected = (async () => {
    const worker = container.controller ?? (await activated(registration, timeoutMs))
    await sendRequest<PageRequests, 'connect'>(worker, 'connect', { config: config.worker }, timeoutMs)
  })()
  await Promise.all([controlled(container, timeoutMs), connected])
  return registration
}

function activated(registration: ServiceWorkerRegistration, timeoutMs: number): Promise<ServiceWorker> {
  const worker = registration.active ?? registration.waiting ?? registration.installing
  if (!worker) return Promise.reject(new Error('Pixstore: the service worker registration has no worker'))
  return waitFor(worker, 'statechange', () => {
    if (worker.state === 'redundant') throw new Error('Pixstore: the service worker failed to install (see its console for the error)')
    return worker.state === 'activated' ? worker : undefined
  }, timeoutMs, 'the service worker did not activate')
}

function controlled(container: ServiceWorkerContainer, timeoutMs: number): Promise<ServiceWorker> {
  return waitFor(container, 'controllerchange', () => container.controller ?? undefined, timeoutMs, 'the service worker did not take control of this page')
}

/** Resolves with the first value `check` gives, now or after an `event`; rejects if it throws or time runs out. */
function waitFor<T>(target: EventTarget, event: string, check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const settle = () => {
      try {
        const value = check()
        if (value === undefined) return
        resolve(value)
      } catch (error) {
        reject(error)
      }
      stop()
    }
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`Pixstore: ${what} within ${timeoutMs} ms`))
    }, timeoutMs)
    const stop = () => {
      clearTimeout(timer)
      target.removeEventListener(event, settle)
    }
    target.addEventListener(event, settle)
    settle()
  })
}
