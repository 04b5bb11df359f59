// Child process: one Pixstore instance (initPixstoreBackend, as an application
// starts it) on a shared database, driven over IPC by instanceProcess.ts.
import type { AddressInfo } from 'node:net'
import { initPixstoreBackend, type PixstoreHandle } from '../server/index'
import { answerParent } from './childRpc'
import type { InstanceCommand } from './instanceProcess'

let handle: PixstoreHandle | null = null
let served = 0

async function run(command: InstanceCommand): Promise<unknown> {
  switch (command.type) {
    case 'start': {
      handle = await initPixstoreBackend({ ...command.config, defaultEndpointListenHost: '127.0.0.1', defaultEndpointListenPort: 0, errorHandlingMode: 'throw' })
      handle.server!.on('request', () => served++)
      return (handle.server!.address() as AddressInfo).port
    }
    case 'save':
      return handle!.backend.saveImage(Buffer.from(command.image, 'base64'))
    case 'update':
      return handle!.backend.updateImage(command.id, Buffer.from(command.image, 'base64'))
    case 'record':
      return handle!.backend.getImageRecord(command.id)
    case 'served':
      return served
    case 'close':
      await handle?.close()
      setImmediate(() => process.exit(0))
      return null
  }
}

// The parent going away takes the instance with it.
answerParent(run)
