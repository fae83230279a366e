import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoSite, startDemoSite } from '../../src/crawler/demo-site.js';
import { fetchPage } from '../../src/crawler/fetcher.js';
import { extractLinks, extractTitle, normalizeUrl } from '../../src/crawler/links.js';
import { Robots } from '../../src/crawler/robots.js';

describe('links', () => {
  it('resolves, de-duplicates and drops fragments and non-http links', () => {
    const html = `<a href="/a#top">a</a><A HREF='b?x=1'>b</A><a class=x href=/a>again</a>
      <a href="mailto:x@y">mail</a><a href="javascript:void(0)">js</a><a href="http://Other.test/c#f">c</a>`;
    expect(extractLinks(html, 'http://site.test/dir/page')).toEqual([
      'http://site.test/a',
      'http://site.test/dir/b?x=1',
      'http://other.test/c',
    ]);
  });
  it('reads the title and rejects invalid URLs', () => {
    expect(extractTitle('<html><title> Hello </title>')).toBe('Hello');
    expect(extractTitle('<p>none</p>')).toBe('');
    expect(normalizeUrl('http://[bad')).toBeNull();
  });
});

describe('robots', () => {
  it('applies the most specific group and the longest matching rule', () => {
    const robots = new Robots(
      'User-agent: *\nDisallow: /private/\nAllow: /private/open\n\nUser-agent: badbot\nDisallow: /\n',
    );
    expect(robots.allows('/page/1')).toBe(true);
    expect(robots.allows('/private/secret')).toBe(false);
    expect(robots.allows('/private/open/x')).toBe(true);
    expect(new Robots('User-agent: BadBot\nDisallow: /', 'badbot/1.0').allows('/x')).toBe(false);
    expect(new Robots('User-agent: *\nDisallow:\n').allows('/x')).toBe(true);
  });
});

describe('demo site', () => {
  let site: DemoSite;
  beforeAll(async () => {
    site = await startDemoSite({ pages: 40, seed: 7, slowMs: 1 });
  });
  afterAll(() => site.close());

  it('serves linked pages on 127.0.0.1, a robots.txt, and 404 for unknown pages', async () => {
    expect(site.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const home = await fetchPage(site.url);
    expect(home.status).toBe(200);
    expect(extractTitle(home.body)).toBe('Page 0');
    expect(extractLinks(home.body, site.url)).toContain(`${site.url}page/1`);
    expect((await fetchPage(`${site.url}robots.txt`)).body).toContain('Disallow: /private/');
    expect((await fetchPage(`${site.url}page/99999`)).status).toBe(404);
    expect(site.reachablePages).toBeGreaterThan(1);
    expect(site.reachablePages).toBeLessThanOrEqual(40);
  });

  it('cuts bodies at maxBytes', async () => {
    const page = await fetchPage(site.url, { maxBytes: 50 });
    expect(page.bytes).toBe(50);
    expect(page.truncated).toBe(true);
  });
});
