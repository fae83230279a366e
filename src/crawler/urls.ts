/**
 * urls: one URL per page. Apart from links.ts so that the crawl's parent process, which only
 * normalizes the start URLs, does not load the HTML parser.
 */

/** Normalizes a URL for de-duplication: resolved, no fragment, lower-case host; query kept as is. */
export function normalizeUrl(href: string, base?: string): string | null {
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.hash = '';
  return url.href;
}
