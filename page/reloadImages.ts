/**
 * Makes the browser request Pixstore `<img>`s again (src, srcset, also the
 * `<source>`s of a `<picture>`), for images that could not show before:
 * requested before the worker controlled the page (first visit), or before
 * their record arrived. Setting `src` again, or `srcset` anew (see
 * `reselect`), makes the browser select and fetch again, now through the worker.
 *
 * With `rewrite`, matching URLs are replaced (a new `?v=<token>`), so images
 * already showing an old version are fetched again too; the browser would
 * otherwise reuse its decoded copy of an unchanged URL. With `onlyFailed`,
 * images still loading are left alone (their request will find the record).
 * Returns how many images were asked to reload.
 */
export function reloadImages(root: ParentNode, select: (url: URL) => boolean, options: { rewrite?: (url: URL) => URL; onlyFailed?: boolean } = {}): number {
  const { rewrite, onlyFailed = false } = options
  let reloaded = 0
  for (const img of root.querySelectorAll('img')) {
    const sources = img.parentElement instanceof HTMLPictureElement ? [...img.parentElement.querySelectorAll(':scope > source')] : []
    if (!candidateUrls(img, sources).some(select)) continue
    const changed = rewrite ? [img, ...sources].map((element) => rewriteAttributes(element, select, rewrite)).includes(true) : false
    if (changed) reloaded++
    else if (img.naturalWidth === 0 && (img.complete || !onlyFailed)) {
      reselect(img)
      reloaded++
    }
  }
  return reloaded
}

function candidateUrls(img: HTMLImageElement, sources: Element[]): URL[] {
  const texts = [img.currentSrc, img.getAttribute('src') ?? '', ...srcsetUrls(img.getAttribute('srcset')), ...sources.flatMap((source) => srcsetUrls(source.getAttribute('srcset')))]
  return texts.flatMap((text) => {
    const url = parse(text, img.baseURI)
    return url ? [url] : []
  })
}

const parse = (text: string, base: string): URL | null => {
  if (!text) return null
  try {
    return new URL(text, base)
  } catch {
    return null
  }
}

/** The URLs of a srcset ("a.png 1x, b.png 2x"); Pixstore URLs contain no commas or spaces. */
const srcsetUrls = (srcset: string | null) => (srcset ?? '').split(',').flatMap((candidate) => candidate.trim().split(/\s+/, 1).filter(Boolean))

/** Rewrites the matching URLs in `src` and `srcset`; true if any attribute changed. */
function rewriteAttributes(element: Element, select: (url: URL) => boolean, rewrite: (url: URL) => URL): boolean {
  let changed = false
  const replace = (text: string): string => {
    const url = parse(text, element.baseURI)
    if (!url || !select(url)) return text
    const next = rewrite(url).href
    if (next === url.href) return text
    changed = true
    return next
  }
  const src = element instanceof HTMLImageElement ? element.getAttribute('src') : null
  const nextSrc = src === null ? null : replace(src.trim())
  const srcset = element.getAttribute('srcset')
  const nextSrcset =
    srcset === null
      ? null
      : srcset
          .split(',')
          .map((candidate) => {
            const [url = '', ...descriptors] = candidate.trim().split(/\s+/)
            return [replace(url), ...descriptors].join(' ')
          })
          .join(', ')
  if (!changed) return false
  if (nextSrcset !== null) element.setAttribute('srcset', nextSrcset)
  if (nextSrc !== null && nextSrc !== src!.trim()) element.setAttribute('src', nextSrc)
  return true
}

/**
 * Makes the browser select and fetch again. Setting `src` to its own value
 * does that everywhere; Firefox starts no request for a `srcset` set to its
 * own value, so a `srcset` is removed and set again (one selection: both
 * happen before the browser's next stable state).
 */
function reselect(img: HTMLImageElement): void {
  const src = img.getAttribute('src')
  if (src !== null && img.getAttribute('srcset') === null) return img.setAttribute('src', src)
  const withSrcset = img.hasAttribute('srcset') ? img : img.parentElement?.querySelector(':scope > source[srcset]')
  if (withSrcset) {
    const srcset = withSrcset.getAttribute('srcset')!
    withSrcset.removeAttribute('srcset')
    withSrcset.setAttribute('srcset', srcset)
  }
}
