// The demo app's own web server: its pages, its small API, and the worker script.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Koa from 'koa'
import Router from '@koa/router'
import { getImageRecord, pixstoreServiceWorker, updateImageFromFile } from 'pixstore/backend'

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
  const view = async ({ id, sample }) => ({ id, title: titleOf(samples[sample]), record: await getImageRecord(id) })

  router.get('/api/gallery', async (ctx) => {
    const items = await Promise.all(gallery.map(view))
    ctx.body = { backendPort, items: items.filter((item) => item.record) }
  })

  // Replaces one picture on the server with the next sample; answers the new record.
  router.post('/api/gallery/:id/replace', async (ctx) => {
    const item = gallery.find((entry) => entry.id === ctx.params.id)
    if (!item) ctx.throw(404, 'No such gallery image')
    const next = (item.sample + 1) % samples.length
    if (!(await updateImageFromFile(item.id, samples[next]))) ctx.throw(500, 'Update failed')
    item.sample = next
    ctx.body = await view(item)
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
