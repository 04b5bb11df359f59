/**
 * Joins concurrent calls for one key onto the task already running, so a page
 * with the same image ten times makes one backend request and one page lookup.
 * A task's result can outlive the task: a chunked answer resolves once its
 * first record arrived and streams on; `busy(result)` keeps it joinable until
 * that settles too, so a request made while it streams joins it rather than
 * fetching the image a second time.
 */
export class InFlight<T> {
  private readonly running = new Map<string, Promise<T>>()

  run(key: string, task: () => Promise<T>, busy?: (result: T) => Promise<unknown> | null): Promise<T> {
    const running = this.running.get(key)
    if (running) return running
    const started = task()
    this.running.set(key, started)
    const forget = () => {
      if (this.running.get(key) === started) this.running.delete(key)
    }
    started.then((result) => busy?.(result)).then(forget, forget)
    return started
  }
}
