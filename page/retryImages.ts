/**
 * Requests again the images a page showed before the worker controlled it
 * (first visit): those requests went to the site's own server, which does
 * not serve the Pixstore route, and failed. Setting an image's `src` or
 * `srcset` (even to the same value) makes the browser select and fetch it
 * again, now through the worker; inside `<picture>` this re-reads the sources.
 * Returns how many images were asked to reload.
 */
export function retryImages(root: ParentNode, isPixstoreUrl: (url: URL) => boolean): number {
  let retried = 0
  for (const img of root.querySelectorAll('img')) {
    if (img.complete && img.naturalWidth > 0) continue
    if (!candidateUrls(img).some(isPixstoreUrl)) continue
    reselect(img)
    retried++
  }
  return retried
}

function candidateUrls(img: HTMLImageElement): URL[] {
  const sources = img.parentElement instanceof HTMLPictureElement ? [...img.parentElement.querySelectorAll(':scope > source')] : []
  const texts = [img.currentSrc, img.getAttribute('src') ?? '', ...srcsetUrls(img.getAttribute('srcset')), ...sources.flatMap((source) => srcsetUrls(source.getAttribute('srcset')))]
  return texts.flatMap((text) => {
    if (!text) return []
    try {
      return [new URL(text, img.baseURI)]
    } catch {
      return []
    }
  })
}

/** The URLs of a srcset ("a.png 1x, b.png 2x"); Pixstore URLs contain no commas or spaces. */
const srcsetUrls = (srcset: string | null) => (srcset ?? '').split(',').flatMap((candidate) => candidate.trim().split(/\s+/, 1).filter(Boolean))

function reselect(img: HTMLImageElement): void {
  for (const attribute of ['src', 'srcset']) {
    const value = img.getAttribute(attribute)
    if (value !== null) return img.setAttribute(attribute, value)
  }
  const source = img.parentElement?.querySelector(':scope > source[srcset]')
  source?.setAttribute('srcset', source.getAttribute('srcset')!)
}
