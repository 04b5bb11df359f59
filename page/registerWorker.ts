import { PixstoreError } from '../protocol/errors'
import { MessageTimeoutError, sendRequest, type PageRequests } from '../protocol/messages'
import { PROTOCOL_VERSION } from '../protocol/version'
import { workerScriptUrl } from '../protocol/workerConfig'
import type { ResolvedFrontendConfig } from './config'

/** Page module and worker come from different Pixstore releases and no matching worker could be had. */
export class PixstoreVersionMismatchError extends PixstoreError {
  override name = 'PixstoreVersionMismatchError'
  constructor(message: string) {
    super(message, 'ERR_VERSION_MISMATCH')
  }
}

/**
 * Registers the worker with its config in the script URL (read again by a
 * restarted worker; a changed config is a changed URL, hence a new worker),
 * checks that it speaks this page module's protocol version, sends it the
 * config and resolves once it has acknowledged and controls the page. The
 * worker claims the page in its `connect` answer, so a page loaded before
 * the worker existed (or hard-reloaded) is taken over without a reload.
 *
 * After an upgrade an old worker may still control the page: then the
 * registration is asked to update, and the new worker is used once it is
 * active (bounded by `timeoutMs`). If updating finds no worker of this
 * version, it rejects with a PixstoreVersionMismatchError instead of
 * letting page and worker misunderstand each other.
 *
 * On a reload the page is usually controlled already by the very worker this
 * config names (its script URL carries the whole config) and speaks our
 * version: then one `hello` is all it takes, and the registration (which
 * registering the same script URL again only returns) arrives in the background.
 * `onRegistered` is called once: with the registration, or null when registering failed.
 */
export async function registerWorker(
  container: ServiceWorkerContainer,
  config: ResolvedFrontendConfig,
  timeoutMs: number,
  onRegistered: (registration: ServiceWorkerRegistration | null) => void = () => {},
): Promise<void> {
  const scriptUrl = workerScriptUrl(config.serviceWorkerUrl, config.worker, location.href)
  const registering = container.register(scriptUrl, { scope: config.scope }).then(
    (registration) => (onRegistered(registration), registration),
    (error) => {
      onRegistered(null)
      throw new PixstoreError(`Pixstore: registering the service worker ${config.serviceWorkerUrl} failed: ${error instanceof Error ? error.message : error}`, 'ERR_WORKER')
    },
  )
  const connect = (worker: ServiceWorker) => sendRequest<PageRequests, 'connect'>(worker, 'connect', { config: config.worker, protocolVersion: PROTOCOL_VERSION }, timeoutMs)
  const controller = container.controller
  if (controller?.scriptURL === scriptUrl && controller.state === 'activated') {
    const version = await protocolVersionOf(controller, timeoutMs).catch(() => null)
    if (version === PROTOCOL_VERSION) {
      registering.catch((error: Error) => console.warn(error.message))
      return
    }
  }
  const registration = await registering
  const connected = (async () => {
    // The newest worker, not the controller: after a config change the controller is about to be replaced.
    const newest = newestWorker(registration)
    if (!newest) throw new PixstoreError('Pixstore: the service worker registration has no worker', 'ERR_WORKER')
    // A worker answers messages while it installs, so on a first visit `hello` and `connect` (right behind it:
    // one round trip) overlap the install instead of following it. Another version refuses `connect` or is replaced below.
    const hello = protocolVersionOf(newest, timeoutMs)
    const connecting = connect(newest)
    hello.catch(() => {}) // both are awaited once the worker is active (or failed to install)
    connecting.catch(() => {})
    const worker = await activated(newest, timeoutMs)
    if ((await hello) === PROTOCOL_VERSION) return connecting
    await connect(await updatedWorker(registration, worker, await hello, timeoutMs))
  })()
  await Promise.all([controlled(container, timeoutMs), connected])
}

/** The worker's protocol version; workers before version 2 know no `hello` and answer it with an error. */
async function protocolVersionOf(worker: ServiceWorker, timeoutMs: number): Promise<number> {
  try {
    const reply = await sendRequest<PageRequests, 'hello'>(worker, 'hello', { protocolVersion: PROTOCOL_VERSION }, timeoutMs)
    return Number.isInteger(reply?.protocolVersion) ? reply.protocolVersion : 1
  } catch (error) {
    if (error instanceof MessageTimeoutError) throw new PixstoreError(`Pixstore: the service worker ${worker.scriptURL} did not answer within ${timeoutMs} ms`, 'ERR_MESSAGE_TIMEOUT')
    return 1
  }
}

/** Asks the registration for a newer worker script and waits for it; it must speak our version. */
async function updatedWorker(registration: ServiceWorkerRegistration, old: ServiceWorker, oldVersion: number, timeoutMs: number): Promise<ServiceWorker> {
  const mismatch = (why: string) =>
    new PixstoreVersionMismatchError(
      `Pixstore: this page module speaks protocol version ${PROTOCOL_VERSION} but the service worker ${old.scriptURL} speaks version ${oldVersion}, and ${why}. ` +
        'Serve the page module and pixstore-sw.js from the same Pixstore release (and make sure the worker script is not cached by an HTTP cache).',
    )
  try {
    await registration.update()
  } catch (error) {
    throw mismatch(`updating the registration failed (${error instanceof Error ? error.message : error})`)
  }
  const next = newestWorker(registration)
  if (!next || next === old) throw mismatch('updating the registration found no other version of the worker script')
  let worker: ServiceWorker
  try {
    worker = await activated(next, timeoutMs)
  } catch (error) {
    throw mismatch(`the updated worker did not activate: ${error instanceof Error ? error.message : error}`)
  }
  const version = await protocolVersionOf(worker, timeoutMs)
  if (version !== PROTOCOL_VERSION) throw mismatch(`the updated worker speaks version ${version}`)
  return worker
}

const newestWorker = (registration: ServiceWorkerRegistration) => registration.installing ?? registration.waiting ?? registration.active

function activated(worker: ServiceWorker, timeoutMs: number): Promise<ServiceWorker> {
  return waitFor(worker, 'statechange', () => {
    if (worker.state === 'redundant') throw new PixstoreError('Pixstore: the service worker failed to install (see its console for the error)', 'ERR_WORKER')
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
      reject(new PixstoreError(`Pixstore: ${what} within ${timeoutMs} ms`, 'ERR_MESSAGE_TIMEOUT'))
    }, timeoutMs)
    const stop = () => {
      clearTimeout(timer)
      target.removeEventListener(event, settle)
    }
    target.addEventListener(event, settle)
    settle()
  })
}
