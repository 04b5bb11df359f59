import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { Command } from 'commander'
import type { PixstoreBackend } from '../server/backend'
import { readFileWithin } from '../server/boundedFile'
import { DIR_RULE, isValidDir } from '../server/imageId'
import { addConfigOptions, CONFIG_HELP, loadCliConfig } from './config'
import { CliUsageError } from './errors'
import { openOfflineBackend } from './openBackend'
import { printJsonLine, printLine, reasonOf } from './output'
import { createProgress, formatBytes } from './progress'

interface ImportOptions {
  dir?: string
  json?: boolean
  [option: string]: unknown
}

/** `pixstore import <files or folders...>`: saves every image found, then says what was saved and what was skipped and why. */
export function importCommand(): Command {
  return addConfigOptions(
    new Command('import')
      .description('encrypt and save image files (folders are walked recursively)')
      .argument('<paths...>', 'image files or folders')
      .option('--dir <name>', `save under this dir: ids become "<name>:<id>" (${DIR_RULE})`)
      .option('--json', 'print one JSON line per file instead of the summary'),
  )
    .addHelpText('after', `\nExit code: 0 when every file was saved, 1 when any was skipped, 2 for a usage error.\n${CONFIG_HELP}`)
    .action(async (paths: string[], options: ImportOptions) => {
      if (options.dir !== undefined && !isValidDir(options.dir)) throw new CliUsageError(`--dir ${JSON.stringify(options.dir)}: use ${DIR_RULE}`)
      const config = loadCliConfig(options, process.env)
      const files = await findFiles(paths)
      const backend = await openOfflineBackend(config)
      const progress = createProgress(files.length, 'Importing')
      const skipped: { file: string; reason: string }[] = []
      let saved = 0
      let bytes = 0
      try {
        for (const entry of files) {
          const result: SaveResult = entry.problem ? { reason: entry.problem } : await saveOne(backend, entry.file, options.dir)
          if ('id' in result) {
            saved++
            bytes += result.bytes
            if (options.json) printJsonLine({ file: entry.file, status: 'saved', ...result })
          } else {
            skipped.push({ file: entry.file, reason: result.reason })
            if (options.json) printJsonLine({ file: entry.file, status: 'skipped', reason: result.reason })
          }
          progress.tick(entry.file, 'id' in result ? 'saved' : 'skipped')
        }
      } finally {
        progress.stop()
        await backend.close()
      }
      if (!options.json) {
        printLine(`Saved ${saved} image${saved === 1 ? '' : 's'} (${formatBytes(bytes)}), skipped ${skipped.length}.`)
        for (const { file, reason } of skipped) printLine(`  skipped ${file}: ${reason}`)
      }
      process.exitCode = skipped.length > 0 ? 1 : 0
    })
}

type SaveResult = { id: string; token: number; bytes: number } | { reason: string }

async function saveOne(backend: PixstoreBackend, file: string, dir: string | undefined): Promise<SaveResult> {
  try {
    const image = await readFileWithin(file, backend.config.maxImageBytes) // never more than the limit, never a FIFO or device
    const record = (await backend.saveImage(image, dir))!
    return { id: record.id, token: record.token, bytes: image.length }
  } catch (error) {
    return { reason: reasonOf(error) }
  }
}

/** Every file under the given paths, in a stable order; a path (file or folder) that cannot be read is kept with its problem. */
async function findFiles(paths: string[]): Promise<{ file: string; problem?: string }[]> {
  const found: { file: string; problem?: string }[] = []
  const seenDirs = new Set<string>() // a symlink loop must not walk forever
  const visit = async (target: string): Promise<void> => {
    let info
    try {
      info = await stat(target)
    } catch (error) {
      found.push({ file: target, problem: `cannot read it (${(error as NodeJS.ErrnoException).code ?? error})` })
      return
    }
    if (info.isFile()) return void found.push({ file: target })
    if (!info.isDirectory()) return void found.push({ file: target, problem: 'not a regular file' })
    if (seenDirs.has(`${info.dev}:${info.ino}`)) return
    seenDirs.add(`${info.dev}:${info.ino}`)
    let names: string[]
    try {
      names = (await readdir(target)).sort()
    } catch (error) {
      // One unreadable folder is one skipped entry, not the end of the whole import.
      found.push({ file: target, problem: `cannot read this folder (${(error as NodeJS.ErrnoException).code ?? error})` })
      return
    }
    for (const name of names) await visit(path.join(target, name))
  }
  for (const target of paths) await visit(target)
  return found
}
