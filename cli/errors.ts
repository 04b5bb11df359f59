/** A wrong flag, field or argument: the command prints the message and exits with code 2, before doing any work. */
export class CliUsageError extends Error {
  override name = 'CliUsageError'
}
