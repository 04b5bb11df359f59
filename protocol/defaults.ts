/**
 * Values the server, the page module and the worker must agree on, written
 * once. The timeouts come in pairs whose order matters: the page answers a
 * worker's question before the worker stops waiting for it, so the worker
 * still gets an answer (a null one) instead of a timeout (protocol/defaults.test.ts).
 */

/** The default endpoint's port (server: listen; page: connect). */
export const DEFAULT_PORT = 7482
/** The image route: `GET {route}/{id}`. */
export const DEFAULT_ROUTE = '/pixstore-image'
/** Where the worker script is served and registered from. */
export const DEFAULT_SERVICE_WORKER_URL = '/pixstore-sw.js'

/**
 * The largest image, in bytes of the image file, the server stores
 * (`maxImageBytes`) and the worker accepts from a backend (the page's
 * `maxImageBytes`), unless configured otherwise.
 */
export const DEFAULT_MAX_IMAGE_BYTES = 25 * 1024 * 1024

/**
 * Worker: an answer from the backend that moves no byte for this long (its
 * head, or the next bytes of its body) is aborted as BackendUnreachable, as
 * the server ends an answer its client stops reading (`responseTimeout`).
 */
export const ANSWER_IDLE_TIMEOUT_MS = 30_000

/** Page: registering the worker, and each request to it. */
export const WORKER_TIMEOUT_MS = 10_000

/** Page: how long it holds a worker's question for a record it does not have yet (no `refreshRecords` given). */
export const RECORD_WAIT_MS = 2500
/** Worker: how long it waits for a page to answer that question. Longer than RECORD_WAIT_MS. */
export const RECORD_LOOKUP_TIMEOUT_MS = 4000

/** Page: how long the app's `refreshRecords` may take for one batch. */
export const REFRESH_TIMEOUT_MS = 10_000
/** Worker: how long it waits for a page to refresh a record (the page's bound plus a margin). Longer than REFRESH_TIMEOUT_MS. */
export const REFRESH_LOOKUP_TIMEOUT_MS = 12_000
