import { Command } from 'commander'
import { checkStoreKeys, resetStoreKeyChecks } from '../server/keys/keyCheck'
import { rekeyImage, type RekeyOutcome } from '../server/keys/rekey'
import { resolveKeyRing } from '../server/keys/resolveKeyRing'
import { openImageStore } from '../server/stores/openImageStore'
import { addConfigOptions, CONFIG_HELP, loadCliConfig } from './config'
import { CliUsageError } from './errors'
import { printJsonLine, reasonOf } from './output'
import { createProgress } from './progress'

/**
 * `pixstore rekey`: wraps every stored image key under the current key
 * encryption key, raw keys (a store from before, or from import-v3 without a
 * KEK) included; keys under an older KEK are unwrapped with it from
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
      const counts: Record<RekeyOutcome | 'failed', number> = { rewrapped: 0, 'already current': 0, gone: 0, failed: 0 }
      const failures: { id: string; reason: string }[] = []
      try {
        await store.open()
        await checkStoreKeys(store, keys)
        const ids: string[] = []
        for await (const id of store.ids()) ids.push(id)
        const progress = createProgress(ids.length, 'Rekeying')
        for (const id of ids) {
          let outcome: RekeyOutcome | 'failed'
          let reason: string | undefined
          try {
            outcome = await rekeyImage(store, keys, id)
          } catch (error) {
            outcome = 'failed'
            reason = reasonOf(error)
            failures.push({ id, reason })
          }
          counts[outcome]++
          if (options.json) printJsonLine(reason ? { id, status: outcome, reason } : { id, status: outcome })
          progress.tick(id, outcome)
        }
        progress.stop()
        if (failures.length === 0) {
          // Every key is under the current KEK now: older ones are no longer needed to open the store.
          await resetStoreKeyChecks(store, keys)
          await store.flushLog?.()
        }
      } finally {
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
