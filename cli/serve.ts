import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { Command } from 'commander'
import { initPixstoreBackend } from '../server/index'
import { addConfigOptions, CONFIG_HELP, loadCliConfig } from './config'
import { CliUsageError } from './errors'
import { serveAsClusterWorker, superviseWorkers } from './serveCluster'

/** `pixstore serve`: the default endpoint until SIGINT/SIGTERM, then a clean close (connections, then the database). */
export function serveCommand(): Command {
  return addConfigOptions(new Command('serve').description('run the image endpoint until SIGINT or SIGTERM'))
    .option('--workers <count|auto>', 'processes sharing the port; auto: one per CPU (env PIXSTORE_WORKERS; default 1)')
    .addHelpText('after', CONFIG_HELP)
    .action(async (options: Record<string, unknown>) => {
      const config = loadCliConfig(options, process.env)
      if (cluster.isWorker) return serveAsClusterWorker(config)
      const workers = parseWorkers(options.workers ?? process.env.PIXSTORE_WORKERS)
      if (workers > 1) {
        const signal = await superviseWorkers(config, workers, process.env)
        console.log(`pixstore: stopped (${signal})`)
        return
      }
      const handle = await initPixstoreBackend({ ...config, defaultEndpointEnabled: true })
      console.log(`pixstore: serving ${handle.url}${config.defaultEndpointRoute}/:id (Ctrl-C to stop)`)
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      await handle.close()
      console.log(`pixstore: stopped (${signal})`)
    })
}

function parseWorkers(value: unknown): number {
  if (value === undefined) return 1
  if (value === 'auto') return availableParallelism()
  const count = Number(value)
  if (typeof value !== 'string' || !/^\d+$/.test(value) || count < 1 || count > 256) {
    throw new CliUsageError(`--workers (or PIXSTORE_WORKERS) must be "auto" or a whole number from 1 to 256, got ${JSON.stringify(value)}`)
  }
  return count
}
