import type { ImageFailure, ImageFailureState } from './imageFailure'

/** Any status outside 2xx makes the `<img>` fire `error`; the status says whose fault it is. */
const STATUS: Record<ImageFailureState, number> = {
  NotFound: 404,
  NoRecord: 404,
  MissingProof: 403,
  InvalidProof: 403,
  MissingID: 502,
  InternalError: 502,
  InvalidPayload: 502,
  TooLarge: 502,
  DecryptionFailed: 502,
  UnexpectedResponse: 502,
  EndpointNotFound: 502,
  NotPixstore: 502,
  CorsRefused: 502,
  BackendUnreachable: 504,
  WorkerError: 500,
}

/** The response for a failed image: never cached, cause in `x-pixstore-state`. */
export function failureResponse(failure: ImageFailure): Response {
  return new Response(`Pixstore: ${failure.message}\n`, {
    status: STATUS[failure.state],
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'x-pixstore-state': failure.state,
    },
  })
}
