import { REFRESH_TIMEOUT_MS } from '../protocol/defaults'
import { PixstoreError } from '../protocol/errors'
import { parseImageRecord, type ImageRecord } from '../protocol/record'

/** The app's `refreshRecords` option: fresh records for the ids asked, missing ones left out. */
export type RefreshRecords = (ids: string[]) => Promise<ImageRecord[]>

export interface RefreshBatcherOptions {
  /** How long ids are collected before one call; lazy images scrolled into view arrive within a few ms. */
  delayMs?: number
  /** Most ids per call (a long list becomes several calls), so the app's request stays small. */
  maxBatch?: number
  /** How long one call may take; a hung callback ends in null for its ids. */
  timeoutMs?: number
}


/**
 * Batches the worker's requests for fresh records into few calls of the
 * app's `refreshRecords`: ids asked within `delayMs` go into one call, and
 * asking for an id already waiting or being fetched joins that call. Every
 * `get` settles with a checked record or null (the callback threw, hung,
 * returned garbage or left the id out), never rejects.
 */
export class RefreshBatcher {
  private readonly waiting = new Map<string, Promise<ImageRecord | null>>()
  private queue: { id: string; resolve: (record: ImageRecord | null) => void }[] = []
  private timer: ReturnType<typeof setTimeout> | null = null
  private readonly delayMs: number
  private readonly maxBatch: number
  private readonly timeoutMs: number

  constructor(
    private readonly refresh: RefreshRecords,
    options: RefreshBatcherOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 50
    this.maxBatch = options.maxBatch ?? 100
    this.timeoutMs = options.timeoutMs ?? REFRESH_TIMEOUT_MS
  }

  get(id: string): Promise<ImageRecord | null> {
    const joined = this.waiting.get(id)
    if (joined) return joined
    const result = new Promise<ImageRecord | null>((resolve) => this.queue.push({ id, resolve }))
    this.waiting.set(id, result)
    void result.then(() => this.waiting.delete(id))
    if (this.queue.length >= this.maxBatch) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), this.delayMs)
    return result
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const batch = this.queue.splice(0, this.maxBatch)
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), 0)
    void this.call(batch.map((entry) => entry.id)).then((records) => {
      for (const { id, resolve } of batch) resolve(records.get(id) ?? null)
    })
  }

  private async call(ids: string[]): Promise<Map<string, ImageRecord>> {
    const records = new Map<string, ImageRecord>()
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PixstoreError(`no answer within ${this.timeoutMs} ms`, 'ERR_REFRESH')), this.timeoutMs)
      })
      const answer: unknown = await Promise.race([this.refresh([...ids]), timeout])
      if (!Array.isArray(answer)) throw new PixstoreError(`it must resolve with an array of image records, got ${answer === null ? 'null' : typeof answer}`, 'ERR_REFRESH')
      for (const value of answer) {
        try {
          const record = parseImageRecord(value)
          if (ids.includes(record.id)) records.set(record.id, record)
        } catch (error) {
          console.warn('[pixstore] refreshRecords returned an invalid record:', (error as Error).message)
        }
      }
    } catch (error) {
      console.warn('[pixstore] refreshRecords failed:', error instanceof Error ? error.message : error)
    } finally {
      clearTimeout(timer)
    }
    return records
  }
}
