/**
 * links: pulls the links out of an HTML page and normalizes them so that one page has one URL
 * (no fragment, resolved against the page). A regex over `href` attributes is enough for a
 * crawler's frontier; it must not try to be an HTML parser.
 */

const HREF = /<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;
const TITLE = /<title[^>]*>([^<]*)<\/title>/i;

/** Normalizes a URL for de-duplication: resolved, no fragment, lower-case host. */
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

/** Absolute, normalized, de-duplicated links of `html`, in page order. */
export function extractLinks(html: string, pageUrl: string): string[] {
  const links = new Set<string>();
  for (const match of html.matchAll(HREF)) {
    const href = match[1] ?? match[2] ?? match[3] ?? '';
    const url = normalizeUrl(href.trim(), pageUrl);
    if (url !== null) links.add(url);
  }
  return [...links];
}

/** The page's `<title>`, trimmed, or ''. */
export function extractTitle(html: string): string {
  return TITLE.exec(html)?.[1]?.trim() ?? '';
}
