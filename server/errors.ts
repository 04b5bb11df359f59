/** An expected failure (bad input, unknown id). Anything else is a bug or an outage. */
export class PixstoreError extends Error {
  override name = 'PixstoreError'
}

/** A configuration value that is not allowed; the message names the field. */
export class PixstoreConfigError extends PixstoreError {
  override name = 'PixstoreConfigError'
}

export const ERROR_HANDLING_MODES = ['hybrid', 'throw', 'warn', 'silent', 'custom'] as const
export type ErrorHandlingMode = (typeof ERROR_HANDLING_MODES)[number]
export type CustomErrorHandler = (error: unknown) => void

/**
 * Decides what a failed API call does, per `errorHandlingMode`:
 * - hybrid: expected errors are logged and give null; unexpected ones throw.
 * - throw: everything throws. warn: everything is logged and gives null.
 * - silent: everything gives null. custom: everything goes to the handler and gives null.
 * The last expected error is always kept for `getLastPixstoreError()`.
 */
export class ErrorPolicy {
  lastError: PixstoreError | null = null
  customHandler: CustomErrorHandler | null = null

  constructor(readonly mode: ErrorHandlingMode) {}

  /** Runs `action`; on failure applies the policy, so it returns null or throws. */
  async run<T>(action: () => Promise<T>): Promise<T | null> {
    try {
      return await action()
    } catch (error) {
      return this.fail(error)
    }
  }

  fail(error: unknown): null {
    if (error instanceof PixstoreError) this.lastError = error
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
        if (!this.customHandler) throw new PixstoreConfigError('errorHandlingMode "custom" needs setCustomErrorHandler(fn)')
        this.customHandler(error)
        return null
    }
  }
}
