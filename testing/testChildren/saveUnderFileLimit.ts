// Saves under a file size limit (run with `ulimit -f`): `saveUnderFileLimit.ts <config json> <big image> <small image>`.
// The big save must fail (EFBIG mid-write) without taking the process down; the small one after it must work.
// Prints one JSON line: what each save gave.
import { readFileSync } from 'node:fs'
import { PixstoreBackend } from '../../server/backend'

const [configJson, bigFile, smallFile] = process.argv.slice(2)
const backend = new PixstoreBackend({ ...JSON.parse(configJson!), errorHandlingMode: 'throw' })
const outcome = (promise: Promise<unknown>) => promise.then((record) => ({ ok: record !== null }), (error: Error & { code?: string }) => ({ ok: false, code: error.code, message: error.message }))
const big = await outcome(backend.saveImage(readFileSync(bigFile!)))
// Give any write still failing in the background the time to surface (an unhandled rejection would end the process here).
await new Promise((resolve) => setTimeout(resolve, 200))
const small = await outcome(backend.saveImage(readFileSync(smallFile!)))
await backend.close()
process.stdout.write(`${JSON.stringify({ big, small })}\n`)
