import { Command } from 'commander'
import { initPixstoreBackend } from '../server/index'
import { addConfigOptions, CONFIG_HELP, loadCliConfig } from './config'

/** `pixstore serve`: the default endpoint until SIGINT/SIGTERM, then a clean close (connections, then the database). */
export function serveCommand(): Command {
  return addConfigOptions(new Command('serve').description('run the image endpoint until SIGINT or SIGTERM'))
    .addHelpText('after', CONFIG_HELP)
    .action(async (options: Record<string, unknown>) => {
      const config = loadCliConfig(options, process.env)
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
