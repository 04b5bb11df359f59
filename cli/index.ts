/**
 * The `pixstore` command: one subcommand per module. Exit codes: 0 done,
 * 1 some items failed (each reported), 2 a usage or config error.
 */
import { Command, CommanderError } from 'commander'
import { PixstoreConfigError } from '../server/errors'
import { CliUsageError } from './errors'
import { importCommand } from './import'
import { importV3Command } from './importV3'
import { migrateCommand } from './migrate'
import { rekeyCommand } from './rekey'
import { serveCommand } from './serve'
import { verifyCommand } from './verify'

/** Each entry is a module's `…Command()`: one file per subcommand. */
const COMMANDS = [importCommand, importV3Command, verifyCommand, serveCommand, migrateCommand, rekeyCommand]

export function createProgram(): Command {
  const program = new Command('pixstore')
    .description('Pixstore: images encrypted from disk to browser')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  for (const command of COMMANDS) program.addCommand(command().exitOverride())
  return program
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await createProgram().parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (naming the bad flag or argument) already.
      process.exitCode = error.exitCode === 0 ? 0 : 2
    } else if (error instanceof CliUsageError || error instanceof PixstoreConfigError) {
      console.error(`pixstore: ${error.message}`)
      process.exitCode = 2
    } else {
      console.error('pixstore: failed:', error)
      process.exitCode = 1
    }
  }
}

await main()
