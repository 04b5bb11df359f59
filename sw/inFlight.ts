/**
 * Joins concurrent calls for one key onto the task already running, so a page
 * with the same image ten times makes one backend request and one page lookup.
 */
export class InFlight<T> {
  private readonly running = new Map<string, Promise<T>>()

  run(key: string, task: () => Promise<T>): Promise<T> {
    const running = this.running.get(key)
    if (running) return running
    const started = task().finally(() => this.running.delete(key))
    this.running.set(key, started)
    return started
  }
}
