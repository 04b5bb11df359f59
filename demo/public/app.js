// The demo app: fetch records from our own API, hand them to Pixstore, write plain <img> tags.
import { initPixstoreFrontend, setImageRecords } from '/pixstore/frontend.js'

const status = document.getElementById('status')
const gallery = document.getElementById('gallery')

const { backendPort, items } = await (await fetch('/api/gallery')).json()
await initPixstoreFrontend({ defaultEndpointConnectHost: location.hostname, defaultEndpointConnectPort: backendPort })
await setImageRecords(items.map((item) => item.record))

let loaded = 0
for (const item of items) gallery.append(figure(item))
status.textContent = `${items.length} encrypted images from ${location.hostname}:${backendPort}`

function figure(item) {
  const element = document.createElement('figure')
  const img = document.createElement('img')
  img.alt = item.title
  img.src = `/pixstore-image/${item.id}`
  img.addEventListener('load', () => {
    img.classList.remove('failed')
    status.textContent = `${++loaded} images decrypted by the service worker`
  })
  img.addEventListener('error', () => img.classList.add('failed'))
  const caption = document.createElement('figcaption')
  const title = document.createElement('span')
  title.textContent = item.title
  const replace = document.createElement('button')
  replace.textContent = 'Replace'
  replace.title = 'Replace this picture on the server'
  replace.addEventListener('click', async () => {
    const updated = await (await fetch(`/api/gallery/${encodeURIComponent(item.id)}/replace`, { method: 'POST' })).json()
    await setImageRecords([updated.record])
    title.textContent = img.alt = updated.title
    // A new URL per version, so the browser's own image cache cannot show the old picture.
    img.src = `/pixstore-image/${item.id}?v=${updated.record.token}`
  })
  caption.append(title, replace)
  element.append(img, caption)
  return element
}
