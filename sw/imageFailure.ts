import { PixstoreError } from '../protocol/errors'
import type { ImageFailureState } from '../protocol/messages'
import type { PixstoreStateName } from '../protocol/wire'

export type { ImageFailureState } from '../protocol/messages'

/** Every backend state but the two that carry an image is a failure state too (checked at compile time). */
type WireFailure = Exclude<PixstoreStateName, 'Success' | 'Updated'>
const wireStatesAreDeclared: WireFailure extends ImageFailureState ? true : never = true
void wireStatesAreDeclared

/**
 * Why the worker could not serve an image. Backend states keep their wire
 * names; the rest are the worker's own (protocol/messages.ts lists them all).
 * The name travels to the page in the `x-pixstore-state` header, so a failed
 * `<img>` can be diagnosed in DevTools, and to onImageError with the message.
 */
export class ImageFailure extends PixstoreError {
  override name = 'ImageFailure'
  constructor(
    readonly state: ImageFailureState,
    message: string,
  ) {
    super(message, 'ERR_IMAGE_FAILED')
  }
}
