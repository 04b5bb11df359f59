import { Command } from 'commander'
import { rekeyStore } from '../server/keys/rekey'
import { resolveKeyRing } from '../server/secrets'
import { openImageStore } from '../server/stores/openImageStore'
import { addConfigOptions, CONFIG_HELP, loadCliConfig } from './config'
import { CliUsageError } from './errors'
import { printJsonLine } from './output'
import { createProgress, type Progress } from './progress'

/**
 * `pixstore rekey`: wraps every stored image key under the current key
 * encryption key, raw keys (a store from before, or imported without a KEK)
 * included; keys under an older KEK are unwrapped with it from
 * PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS. Resumable: a key already under the
 * current KEK is left alone, so a second run does only what is left.
 */
export function rekeyCommand(): Command {
  return addConfigOptions(
    new Command('rekey')
      .description('wrap every stored image key under the current key encryption key (PIXSTORE_KEY_ENCRYPTION_KEY)')
      .option('--json', 'print one JSON line per image instead of the summary'),
  )
    .addHelpText(
      'after',
      `\nKeys under an older key encryption key are unwrapped with PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS.
Running it again does only what is left; once a run ends with no failure, the older keys may be dropped.
Exit code: 0 when every key is under the current key encryption key, 1 when any failed, 2 for a usage error.\n${CONFIG_HELP}`,
    )
    .action(async (options: { json?: boolean; [option: string]: unknown }) => {
      const config = loadCliConfig(options, process.env)
      if (config.keyEncryptionKey === undefined) {
        throw new CliUsageError('rekey needs the key encryption key to wrap under: set PIXSTORE_KEY_ENCRYPTION_KEY (config field "keyEncryptionKey"), and the one it replaces in PIXSTORE_PREVIOUS_KEY_ENCRYPTION_KEYS')
      }
      const keys = resolveKeyRing(config, {}, () => {})
      const store = openImageStore(config)
      const failures: { id: string; reason: string }[] = []
      const shown: { progress?: Progress } = {}
      let counts
      try {
        await store.open()
        counts = await rekeyStore(store, keys, {
          onStart: (total) => void (shown.progress = createProgress(total, 'Rekeying')),
          onImage: (id, status, reason) => {
            if (reason) failures.push({ id, reason })
            if (options.json) printJsonLine(reason ? { id, status, reason } : { id, status })
            shown.progress?.tick(id, status)
          },
          onLogKept: (reason) => console.error(`pixstore rekey: note: ${reason}`),
        })
      } finally {
        shown.progress?.stop()
        await store.close()
      }
      if (!options.json) {
        console.log(`Rekeyed: ${counts.rewrapped} rewrapped, ${counts['already current']} already current, ${counts.failed} failed.`)
        for (const { id, reason } of failures) console.log(`  failed ${id}: ${reason}`)
        if (failures.length > 0) console.log('Keep the older key encryption keys configured until a run ends without failures.')
      }
      process.exitCode = failures.length > 0 ? 1 : 0
    })
}
