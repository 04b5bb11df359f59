import { RECORD_LOOKUP_TIMEOUT_MS } from '../protocol/defaults'
import { PixstoreError } from '../protocol/errors'
import { sendRequest, type WorkerRequests } from '../protocol/messages'
import { parseImageRecord, type ImageRecord } from '../protocol/record'

/**
 * Asks pages for a record the worker does not hold, as after the browser
 * restarted it with empty memory (`getImageRecord`), or for a fresh one when
 * the backend refused its proof (`refreshImageRecord`). The page that made the request comes first
 * (it was given the record); then every other window at once. Null when no
 * page has it within `timeoutMs`. Replies are untrusted and checked.
 */
export async function requestRecordFromClients(
  clients: Clients,
  id: string,
  clientId: string,
  timeoutMs = RECORD_LOOKUP_TIMEOUT_MS,
  type: 'getImageRecord' | 'refreshImageRecord' = 'getImageRecord',
): Promise<ImageRecord | null> {
  const deadline = Date.now() + timeoutMs
  const ask = async (client: Client): Promise<ImageRecord | null> => {
    const remaining = deadline - Date.now()
    if (remaining <= 0) return null
    try {
      const reply = await sendRequest<WorkerRequests, typeof type>(client, type, { id }, remaining)
      const record = reply === null ? null : parseImageRecord(reply)
      return record?.id === id ? record : null
    } catch {
      return null
    }
  }
  const requester = clientId ? await clients.get(clientId) : undefined
  const fromRequester = requester ? await ask(requester) : null
  if (fromRequester) return fromRequester
  const others = (await clients.matchAll({ type: 'window', includeUncontrolled: true })).filter((client) => client.id !== requester?.id)
  return Promise.any(others.map(async (client) => (await ask(client)) ?? Promise.reject(new PixstoreError('no record', 'ERR_WORKER')))).catch(() => null)
}
