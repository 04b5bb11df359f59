import { Command } from 'commander'
import { addConfigOptions, CONFIG_HELP, loadCliConfig } from './config'
import { openOfflineBackend } from './openBackend'
import { printJsonLine, printLine, reasonOf } from './output'
import { createProgress } from './progress'

/** `pixstore verify`: decrypts every stored image and checks it is a complete image of its format. */
export function verifyCommand(): Command {
  return addConfigOptions(
    new Command('verify')
      .description('read, decrypt and check every stored image; report the ones that fail')
      .option('--json', 'print one JSON line per image instead of the summary'),
  )
    .addHelpText('after', `\nExit code: 0 when every image is sound, 1 when any failed, 2 for a usage error.\n${CONFIG_HELP}`)
    .action(async (options: { json?: boolean; [option: string]: unknown }) => {
      const backend = await openOfflineBackend(loadCliConfig(options, process.env))
      const failed: { id: string; reason: string }[] = []
      let total = 0
      try {
        const ids: string[] = []
        for await (const id of backend.store.ids()) ids.push(id)
        total = ids.length
        const progress = createProgress(total, 'Verifying')
        for (const id of ids) {
          let reason: string | null = null
          try {
            await backend.verifyImage(id)
          } catch (error) {
            reason = reasonOf(error)
            failed.push({ id, reason })
          }
          if (options.json) printJsonLine(reason ? { id, status: 'failed', reason } : { id, status: 'ok' })
          progress.tick(id, reason ? 'FAILED' : 'ok')
        }
        progress.stop()
      } finally {
        await backend.close()
      }
      if (!options.json) {
        console.log(`Verified ${total} image${total === 1 ? '' : 's'}: ${total - failed.length} ok, ${failed.length} failed.`)
        for (const { id, reason } of failed) printLine(`  failed ${id}: ${reason}`)
      }
      process.exitCode = failed.length > 0 ? 1 : 0
    })
}
