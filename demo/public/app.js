// The demo app: fetch records from our own API, hand them to Pixstore, write plain <img> tags.
import { imageUrl, initPixstoreFrontend, setImageRecords } from '/pixstore/frontend.js'

const status = document.getElementById('status')
const gallery = document.getElementById('gallery')

const { backendPort, items } = await (await fetch('/api/gallery')).json()
await initPixstoreFrontend({
  defaultEndpointConnectHost: location.hostname,
  defaultEndpointConnectPort: backendPort,
  // Proofs expire after 20-40 s; the worker asks for fresh ones through this when an image needs one.
  refreshRecords: async (ids) => (await fetch(`/api/records?ids=${ids.map(encodeURIComponent).join(',')}`)).json(),
  onImageError: ({ id, state, status }) => console.warn(`Pixstore image ${id} failed: ${state} (HTTP ${status})`),
})
await setImageRecords(items.map((item) => item.record))

let loaded = 0
for (const item of items) gallery.append(figure(item))
status.textContent = `${items.length} encrypted images from ${location.hostname}:${backendPort}`

function figure(item) {
  const element = document.createElement('figure')
  const img = document.createElement('img')
  img.alt = item.title
  img.src = imageUrl(item.record)
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
    title.textContent = img.alt = updated.title
    // A new token: the page module points this <img> at the new version itself.
    await setImageRecords([updated.record])
  })
  caption.append(title, replace)
  element.append(img, caption)
  return element
}
