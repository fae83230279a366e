/**
 * demo-site: a built-in website served on 127.0.0.1 for the demo crawl (`npm start`, `diskcache
 * crawl` with no URL). Pages are generated from a seed: each links to a few others, some answer
 * slowly, a few are broken (404) and a few fail once with a 503 before they succeed — so a crawl
 * shows retries, dead links and concurrency. It never listens on anything but loopback.
 */
// node:http is loaded by startDemoSite: a crawl's parent (which imports node-diskcache/crawler)
// need not carry it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of `startDemoSite`. */
export interface DemoSiteOptions {
  /** Number of pages. @default 300 */
  readonly pages?: number;
  /** Links per page. @default 5 */
  readonly linksPerPage?: number;
  /** Extra latency of the slow pages, in milliseconds. @default 40 */
  readonly slowMs?: number;
  /** Seed of the link graph. @default 1 */
  readonly seed?: number;
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
}

/** A running demo site. */
export interface DemoSite {
  /** Base URL, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  /** How many pages are reachable (answer 200 eventually) from the start page. */
  readonly reachablePages: number;
  /** How many requests the site has served (per path), to check for duplicate fetches. */
  readonly hits: ReadonlyMap<string, number>;
  /** When each request arrived (`performance.now()`, ms), robots.txt included: to check a rate. */
  readonly arrivals: readonly number[];
  /**
   * Paths fetched more often than a crawler needed to (once, plus once more after a deliberate
   * 503); robots.txt is left out, since each worker process reads it.
   */
  duplicateFetches(): string[];
  close(): Promise<void>;
}

/** A small deterministic PRNG (mulberry32), so every run builds the same site. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Page {
  readonly links: number[];
  readonly slow: boolean;
  readonly broken: boolean;
  readonly flaky: boolean;
}

function buildSite(pages: number, linksPerPage: number, seed: number): Page[] {
  const next = random(seed);
  const site: Page[] = [];
  for (let i = 0; i < pages; i++) {
    const links = new Set<number>();
    // A chain (i → i+1) keeps every page reachable; the rest are random.
    if (i + 1 < pages) links.add(i + 1);
    while (links.size < Math.min(linksPerPage, pages - 1)) links.add(Math.floor(next() * pages));
    links.delete(i);
    site.push({
      links: [...links],
      slow: next() < 0.15,
      broken: i > 0 && next() < 0.03,
      flaky: next() < 0.05,
    });
  }
  return site;
}

/** Starts the demo site on 127.0.0.1. */
export async function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  const pages = options.pages ?? 300;
  const linksPerPage = options.linksPerPage ?? 5;
  const slowMs = options.slowMs ?? 40;
  if (!Number.isInteger(pages) || pages < 1)
    throw new RangeError(`pages must be a positive integer, got ${String(pages)}`);
  const site = buildSite(pages, linksPerPage, options.seed ?? 1);
  const hits = new Map<string, number>();
  const arrivals: number[] = [];
  const failedOnce = new Set<number>();
  const failedPaths = new Set<string>();

  const { createServer } = await import('node:http');
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    arrivals.push(performance.now());
    if (path === '/robots.txt') {
      response
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('User-agent: *\nDisallow: /private/\n');
      return;
    }
    const match = path === '/' ? ['', '0'] : /^\/page\/(\d+)$/.exec(path);
    const index = match ? Number(match[1]) : -1;
    const page = site[index];
    if (!page || page.broken) {
      response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not found</h1>');
      return;
    }
    if (page.flaky && !failedOnce.has(index)) {
      failedOnce.add(index);
      failedPaths.add(path);
      response
        .writeHead(503, { 'content-type': 'text/html', 'retry-after': '0' })
        .end('<h1>Try again</h1>');
      return;
    }
    const body =
      `<!doctype html><html><head><title>Page ${index}</title>` +
      `<meta name="description" content="Page ${index} of the demo site: ${page.links.length} links"></head>` +
      `<body><h1>Page ${index}</h1>` +
      `<p>${'Lorem ipsum dolor sit amet. '.repeat(1 + (index % 7))}</p><ul>` +
      page.links.map((link) => `<li><a href="/page/${link}">page ${link}</a></li>`).join('') +
      (index % 50 === 0
        ? '<li><a href="/private/secret">private</a></li><li><a href="https://example.invalid/x">external</a></li>'
        : '') +
      '</ul></body></html>';
    const send = () =>
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    if (page.slow) setTimeout(send, slowMs);
    else send();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    reachablePages: countReachable(site),
    hits,
    arrivals,
    duplicateFetches: () =>
      [...hits.entries()]
        .filter(
          ([path, count]) => path !== '/robots.txt' && count > 1 + (failedPaths.has(path) ? 1 : 0),
        )
        .map(([path]) => path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Pages reachable from page 0 through links to non-broken pages. */
function countReachable(site: Page[]): number {
  const seen = new Set<number>([0]);
  const stack = [0];
  while (stack.length > 0) {
    const page = site[stack.pop()!]!;
    for (const link of page.links) {
      if (seen.has(link) || site[link]!.broken) continue;
      seen.add(link);
      stack.push(link);
    }
  }
  return seen.size;
}
