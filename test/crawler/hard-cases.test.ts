import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrawlSummary, crawl } from '../../src/crawler/crawl.js';
import type { PageRecord } from '../../src/crawler/crawl-handler.js';
import { startTrapSite, type TrapSite } from '../fixtures/crawl-site.js';
import { recorded } from '../helpers/crawl-records.js';
import { busiestWindow, spanSeconds } from '../helpers/rate.js';
import { tempDir } from '../helpers/tmp.js';

describe('crawl of a site full of traps', () => {
  let site: TrapSite;
  let summary: CrawlSummary;
  let pages: Map<string, PageRecord>;
  const maxAttempts = 3;

  beforeAll(async () => {
    site = await startTrapSite();
    const directory = tempDir('crawl-traps');
    summary = await crawl({
      startUrl: site.url,
      directory,
      processes: 2,
      concurrency: 4,
      maxAttempts,
      timeoutSeconds: 5,
    });
    pages = recorded(directory);
  }, 120_000);
  afterAll(() => site.close());

  it('fetches every reachable allowed URL exactly once (retries aside) and nothing else', () => {
    const hits = new Map(site.hits);
    const robots = hits.get('/robots.txt') ?? 0;
    hits.delete('/robots.txt');
    expect(Object.fromEntries([...hits].sort())).toEqual(
      Object.fromEntries([...site.expected(maxAttempts)].sort()),
    );
    // robots.txt: once per crawl (stored for the others), at most once per worker process (2),
    // before any page of the origin.
    expect(robots).toBeGreaterThanOrEqual(1);
    expect(robots).toBeLessThanOrEqual(2);
    expect(Math.min(...site.times.get('/robots.txt')!)).toBeLessThan(site.times.get('/')![0]!);
    expect(site.otherHits()).toBe(0);
    expect(summary.reason).toBe('drained');
    expect(summary.startErrors).toEqual([]);
  });

  it('records redirect chains hop by hop, loops, and redirects it would not follow', () => {
    const at = (path: string) => pages.get(new URL(path, site.url).href)!;
    expect(at('/chain/1')).toMatchObject({
      status: 301,
      finalUrl: `${site.url}chain/2`,
      redirects: [{ url: `${site.url}chain/1`, status: 301, location: `${site.url}chain/2` }],
    });
    const end = at('/chain/end');
    expect(end.status).toBe(200);
    expect(end.title).toBe('chain end');
    expect(end.finalUrl).toBe(end.url);
    // /chain/3 was also linked from the start page: whichever reached it first, it ran once.
    expect(end.redirects.at(-1)).toEqual({
      url: `${site.url}chain/3`,
      status: 307,
      location: `${site.url}chain/end`,
    });
    expect(at('/loop/b').error ?? at('/loop/a').error).toMatch(/redirect loop/);
    expect(at('/to-private')).toMatchObject({ status: 302, skipped: 'redirect-robots' });
    expect(at('/to-other')).toMatchObject({ status: 302, skipped: 'redirect-out-of-scope' });
    expect(pages.has(`${site.url}private/secret`)).toBe(false);
  });

  it('parses what a browser would: charsets, entities, <base>, non-HTML bodies ignored', () => {
    const at = (path: string) => pages.get(new URL(path, site.url).href)!;
    expect(at('/latin1').title).toBe('café');
    expect(at('/latin1').outlinks).toEqual([`${site.url}leaf/caf%C3%A9`]);
    expect(at('/base/').outlinks).toEqual([`${site.url}based/leaf`]);
    expect(at('/data.json')).toMatchObject({ status: 200, outlinks: [], title: '' });
    expect(at('/upper').outlinks).toEqual([`${site.url}leaf/upper`]);
    expect(pages.has(`${site.url}query?b=2&a=1`)).toBe(true);
    expect(at('/private/x')).toMatchObject({ status: 0, skipped: 'robots' });
    expect(at('/file.secret')).toMatchObject({ status: 0, skipped: 'robots' });
    const home = at('/');
    expect(home.outlinks).not.toContain(`${site.url}from-comment`);
    expect(home.outlinks.some((link) => !link.startsWith(site.url))).toBe(false);
  });

  it('waits for Retry-After, retries resets and 5xx, and lists what failed with its error', () => {
    const [first, second] = site.times.get('/limited')!;
    expect(second! - first!).toBeGreaterThanOrEqual(900); // Retry-After: 1
    // Retry-After: 0 twice: retried at once, each time. The queue's backoff alone would have
    // waited 0.5 s, then 1 s.
    const busy = site.times.get('/busy-now')!;
    expect(busy).toHaveLength(3);
    expect(busy[2]! - busy[0]!).toBeLessThan(1200);
    expect(pages.get(`${site.url}busy-now`)?.status).toBe(200);
    expect(pages.get(`${site.url}limited`)?.status).toBe(200);
    expect(pages.get(`${site.url}reset-once`)?.status).toBe(200);
    expect(pages.get(`${site.url}flaky`)?.status).toBe(200);
    expect(pages.get(`${site.url}slow`)?.elapsed).toBeGreaterThanOrEqual(0.4);
    expect(summary.failed).toBe(1);
    expect(summary.failures).toEqual([
      expect.objectContaining({ url: `${site.url}reset-always`, attempts: maxAttempts }),
    ]);
    expect(summary.failures[0]!.error).toMatch(/reset-always: .*(socket|closed|reset)/i);
    expect(summary.failures[0]!.error).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('politeness across processes', () => {
  it('holds --rate per host over every process, robots.txt and retries included', async () => {
    const { createServer } = await import('node:http');
    const arrivals: number[] = [];
    const server = createServer((request, response) => {
      arrivals.push(performance.now());
      const links = Array.from({ length: 24 }, (_, i) => `<a href="/p${i}">${i}</a>`).join('');
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end(request.url === '/' ? `<title>r</title>${links}` : '<title>leaf</title>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const rate = 8;
      const summary = await crawl({
        startUrl: `http://127.0.0.1:${port}/`,
        directory: tempDir('crawl-rate'),
        processes: 3,
        concurrency: 4,
        rate,
      });
      expect(summary.pages).toBe(25);
      // 25 pages + up to 3 robots.txt: at `rate` per second, no window of 2 s holds more than
      // 2 × rate (+ slack for network jitter); the whole crawl spans at least most of n / rate.
      expect(busiestWindow(arrivals, 2000)).toBeLessThanOrEqual(2 * rate + 3);
      expect(spanSeconds(arrivals)).toBeGreaterThanOrEqual(((arrivals.length - 1) / rate) * 0.7);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 120_000);
});
