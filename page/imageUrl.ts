import { VERSION_PARAM, type ImageRecord } from '../protocol/record'

/**
 * `{route}/{id}?v={token}` on the page's origin: the URL to put in `src`.
 * The worker ignores the query, but the browser keys its decoded-image
 * memory by URL, so a new token is what makes it show a new version.
 */
export function versionedImageUrl(pageOrigin: string, route: string, record: Pick<ImageRecord, 'id' | 'token'>): string {
  return withVersion(new URL(`${route}/${record.id}`, pageOrigin), record.token).href
}

/** `url` naming version `token` (other query parameters are kept). */
export function withVersion(url: URL, token: number): URL {
  const next = new URL(url)
  next.searchParams.set(VERSION_PARAM, String(token))
  return next
}
