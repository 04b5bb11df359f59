import type { BackendLocation, ProofTransport } from '../protocol/workerConfig'

/**
 * How the proof and token travel to a backend (the `proofTransport` option).
 * `'auto'`: a backend on another origin gets them as query parameters (no
 * CORS preflight) until it answers MissingProof to that form, as Pixstore 3.x
 * does (it reads only the headers); from then on that backend gets headers,
 * remembered per backend origin while the worker runs (a restarted worker
 * finds out again with one request). The same origin always gets headers.
 * `'query'` and `'headers'` fix the form and never fall back.
 */
export class ProofTransports {
  private readonly headersOnly = new Set<string>()

  choose(config: TransportConfig, ownOrigin: string): 'query' | 'headers' {
    const setting = config.proofTransport ?? 'auto'
    if (setting !== 'auto') return setting
    return config.backendOrigin !== ownOrigin && !this.headersOnly.has(config.backendOrigin) ? 'query' : 'headers'
  }

  /** The backend answered MissingProof to the query form: true when the request should go again with headers. */
  queryRefused(config: TransportConfig): boolean {
    if ((config.proofTransport ?? 'auto') !== 'auto') return false
    this.headersOnly.add(config.backendOrigin)
    return true
  }
}

export type TransportConfig = BackendLocation & { proofTransport?: ProofTransport; maxImageBytes?: number }
