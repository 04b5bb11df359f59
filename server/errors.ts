import { AsyncLocalStorage } from 'node:async_hooks'
import { PixstoreError } from '../protocol/errors'

export { ImageDataMissingError, PixstoreConfigError, PixstoreError, type PixstoreErrorCode } from '../protocol/errors'

export const ERROR_HANDLING_MODES = ['hybrid', 'throw', 'warn', 'silent', 'custom'] as const
export type ErrorHandlingMode = (typeof ERROR_HANDLING_MODES)[number]
export type CustomErrorHandler = (error: unknown) => void

/** "custom" mode without a handler, wherever it is found (at construction or at a failed call): one code, ERR_USAGE. */
export const customModeWithoutHandler = (message: string): PixstoreError => new PixstoreError(message, 'ERR_USAGE')

/**
 * Decides what a failed API call does, per `errorHandlingMode`:
 * - hybrid: expected errors are logged and give null; unexpected ones throw.
 * - throw: everything throws. warn: everything is logged and gives null.
 * - silent: everything gives null. custom: everything goes to the handler and gives null.
 * The expected error of a call is kept for `getLastPixstoreError()` in the
 * caller's async context, so concurrent callers each read their own.
 */
export class ErrorPolicy {
  customHandler: CustomErrorHandler | null = null
  readonly #lastError = new AsyncLocalStorage<{ error: PixstoreError | null }>()
  readonly #inCall = new AsyncLocalStorage<true>()

  constructor(readonly mode: ErrorHandlingMode) {}

  /** The expected error of the last call made from this async context, or null if it succeeded. */
  get lastError(): PixstoreError | null {
    return this.#lastError.getStore()?.error ?? null
  }

  /** Runs `action`; on failure applies the policy, so it returns null or throws. */
  async run<T>(action: () => Promise<T>): Promise<T | null> {
    // A call made inside another (saveImageFromFile -> saveImage) leaves the policy to the outer one.
    if (this.#inCall.getStore()) return action()
    // Still synchronous here, so this sets the slot in the caller's own context, where it reads it after awaiting.
    const slot = { error: null as PixstoreError | null }
    this.#lastError.enterWith(slot)
    try {
      return await this.#inCall.run(true, action)
    } catch (error) {
      if (error instanceof PixstoreError) slot.error = error
      return this.fail(error)
    }
  }

  fail(error: unknown): null {
    switch (this.mode) {
      case 'throw':
        throw error
      case 'hybrid':
        if (!(error instanceof PixstoreError)) throw error
        console.error(`[pixstore] ${error.message}`)
        return null
      case 'warn':
        console.warn(`[pixstore] ${error instanceof Error ? error.message : String(error)}`)
        return null
      case 'silent':
        return null
      case 'custom':
        if (!this.customHandler) throw customModeWithoutHandler('errorHandlingMode "custom" needs setCustomErrorHandler(fn)')
        this.customHandler(error)
        return null
    }
  }
}
