import type { PixstoreStateName } from '../protocol/wire'

/**
 * Why the worker could not serve an image. Backend states keep their wire
 * names; the rest are the worker's own. The name travels to the page in the
 * `x-pixstore-state` header, so a failed `<img>` can be diagnosed in DevTools.
 */
export type ImageFailureState =
  | Exclude<PixstoreStateName, 'Success' | 'Updated'>
  | 'NoRecord'
  | 'InvalidPayload'
  | 'DecryptionFailed'
  | 'BackendUnreachable'
  | 'UnexpectedResponse'
  | 'WorkerError'

export class ImageFailure extends Error {
  override name = 'ImageFailure'
  constructor(
    readonly state: ImageFailureState,
    message: string,
  ) {
    super(message)
  }
}
