import type { PageRecords } from './pageRecords'

/** Where a logout is marked for every tab of the origin: a time, nothing secret. */
export const LOGOUT_MARK_KEY = 'pixstore:logged-out-at'

/**
 * Logout across tabs, as one page sees it. When any tab logs out
 * (`clearImageCache`), the worker tells every page to `forget`; the tab that
 * logs out also leaves a mark in localStorage, so a page that missed the
 * message (frozen in the background, in the back/forward cache) forgets too
 * the next time the worker asks it for anything. A page that forgot hands
 * no record to the worker and does not call its app's `refreshRecords`
 * (which may still be logged in with a cookie): its images fail with
 * NoRecord until its app hands over records again with `setImageRecords`,
 * which is the app saying who is logged in now.
 */
export class PageSession {
  private armedAt: number
  private forgotten = false
  /** Counts forgets: an answer the app's refreshRecords gives after one is dropped. */
  private forgets = 0
  /** What else the page drops on a logout (retries waiting for the backend). */
  onForget: () => void = () => {}

  constructor(
    private readonly records: PageRecords,
    private readonly storage: () => Pick<Storage, 'getItem' | 'setItem'> | null = defaultStorage,
    private readonly now = Date.now,
  ) {
    this.armedAt = now()
  }

  get generation(): number {
    return this.forgets
  }

  /** The app handed over records (`setImageRecords`): someone is logged in, the page serves records again. */
  armed(): void {
    this.forgotten = false
    this.armedAt = this.now()
  }

  /** This tab logs out: it forgets, and marks the logout for the other tabs. */
  logOut(): void {
    this.forget()
    try {
      this.storage()?.setItem(LOGOUT_MARK_KEY, String(this.now()))
    } catch {
      // No web storage (disabled, quota): the worker's message still reaches every open page.
    }
  }

  /** Another tab logged out: every record goes, waiting lookups end with null. */
  forget(): void {
    this.forgotten = true
    this.forgets++
    this.records.clear()
    this.onForget()
  }

  /** Whether this page may give records to the worker or ask the app for fresh ones. */
  active(): boolean {
    if (!this.forgotten && this.loggedOutAt() > this.armedAt) this.forget()
    return !this.forgotten
  }

  private loggedOutAt(): number {
    try {
      return Number(this.storage()?.getItem(LOGOUT_MARK_KEY) ?? 0) || 0
    } catch {
      return 0
    }
  }
}

function defaultStorage(): Storage | null {
  return typeof localStorage === 'undefined' ? null : localStorage
}
