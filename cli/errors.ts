import { PixstoreError } from '../protocol/errors'
/** A wrong flag, field or argument: the command prints the message and exits with code 2, before doing any work. */
export class CliUsageError extends PixstoreError {
  override name = 'CliUsageError'
  constructor(message: string) {
    super(message, 'ERR_CLI_USAGE')
  }
}
