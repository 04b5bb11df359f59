// The demo app's own web server: its pages, its small API, and the worker script.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Koa from 'koa'
import Router from '@koa/router'
import { getImageRecords, pixstoreServiceWorker, updateImageFromFile } from 'pixstore/backend'

const here = path.dirname(fileURLToPath(import.meta.url))
const STATIC = {
  '/': { file: path.join(here, 'public', 'index.html'), type: 'html' },
  '/app.js': { file: path.join(here, 'public', 'app.js'), type: 'text/javascript' },
  '/pixstore/frontend.js': { file: path.join(here, '..', 'dist', 'page', 'index.js'), type: 'text/javascript' },
}

const titleOf = (file) => path.basename(file).replace(/\.\w+$/, '').replace(/-/g, ' ')

/**
 * `gallery` is [{ id, sample }] with `sample` an index into `samples`; the API
 * answers with fresh image records, the way an application returns them next to its own data.
 */
export function createDemoSite({ gallery, samples, backendPort }) {
  const app = new Koa()
  const router = new Router()
  const view = ({ id, sample }, record) => ({ id, title: titleOf(samples[sample]), record })

  router.get('/api/gallery', async (ctx) => {
    const records = new Map((await getImageRecords(gallery.map((item) => item.id))).map((record) => [record.id, record]))
    ctx.body = {
      backendPort,
      items: gallery.filter((item) => records.has(item.id)).map((item) => view(item, records.get(item.id))),
    }
  })

  // The page module's refreshRecords callback lands here when proofs expire: fresh records, unknown ids left out.
  // A real app checks here that the signed-in user may see each id.
  router.get('/api/records', async (ctx) => {
    const ids = String(ctx.query.ids ?? '').split(',').filter(Boolean).slice(0, 100)
    ctx.set('Cache-Control', 'no-store')
    ctx.body = (await getImageRecords(ids)) ?? []
  })

  // Replaces one picture on the server with the next sample; answers the new record.
  router.post('/api/gallery/:id/replace', async (ctx) => {
    const item = gallery.find((entry) => entry.id === ctx.params.id)
    if (!item) ctx.throw(404, 'No such gallery image')
    const next = (item.sample + 1) % samples.length
    const record = await updateImageFromFile(item.id, samples[next])
    if (!record) ctx.throw(500, 'Update failed')
    item.sample = next
    ctx.body = view(item, record)
  })

  app.use(pixstoreServiceWorker())
  app.use(router.routes())
  app.use(async (ctx, next) => {
    const entry = ctx.method === 'GET' && STATIC[ctx.path]
    if (!entry) return next()
    ctx.type = entry.type
    ctx.set('Cache-Control', 'no-cache')
    ctx.body = await readFile(entry.file)
  })
  return app
}
