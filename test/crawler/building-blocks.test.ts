import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCurrentBundle } from '../../src/crawler/crawl.js';
import { type DemoSite, startDemoSite } from '../../src/crawler/demo-site.js';
import { fetchPage, retryAfterSeconds } from '../../src/crawler/fetcher.js';
import {
  decodeBody,
  extractLinks,
  extractTitle,
  isHtml,
  normalizeUrl,
  parseHtml,
  parserFile,
} from '../../src/crawler/links.js';
import { Robots } from '../../src/crawler/robots.js';
import { tempDir } from '../helpers/tmp.js';

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

  it('takes links as the parser sees them: none from comments, scripts, styles, templates or textareas', () => {
    const html = `<html><head><title>A &amp; B</title></head><body>
      <!-- <a href="/comment">c</a> -->
      <script>document.write('<a href="/script">s</a>')</script>
      <style>a[href="/style"] { color: red }</style>
      <template><a href="/template">t</a></template>
      <textarea><a href="/textarea">x</a></textarea>
      <a href="/real">real</a><p title='<a href="/attribute">'>p</p></body></html>`;
    const page = parseHtml(html, 'http://site.test/');
    expect(page.links).toEqual(['http://site.test/real']);
    expect(page.title).toBe('A & B');
  });

  it('decodes entities and keeps query strings as they are', () => {
    const html = `<a href="/search?q=a&amp;page=2">1</a><a href="/s?a=1&copy=2">2</a><a href="/caf&eacute;">3</a>
      <a href="/p?b=2&a=1&a=0">4</a>`;
    expect(extractLinks(html, 'http://site.test/')).toEqual([
      'http://site.test/search?q=a&page=2',
      // a legacy entity followed by '=' in an attribute stays as written (the HTML spec's rule)
      'http://site.test/s?a=1&copy=2',
      'http://site.test/caf%C3%A9',
      'http://site.test/p?b=2&a=1&a=0',
    ]);
  });

  it('resolves every link against the first <base href>, links before it included', () => {
    const html = `<html><head><title>t</title></head><body><a href="before">0</a>
      <base href="http://cdn.test/root/"><base href="http://ignored.test/"><a href="x/y">1</a><a href="/abs">2</a></body>`;
    expect(parseHtml(html, 'http://site.test/dir/page')).toMatchObject({
      baseUrl: 'http://cdn.test/root/',
      links: ['http://cdn.test/root/before', 'http://cdn.test/root/x/y', 'http://cdn.test/abs'],
    });
  });

  it('decodes bodies by the declared charset: header, then <meta>, then UTF-8', () => {
    const latin1 = Buffer.from('<p>caf\xe9</p>', 'latin1');
    expect(decodeBody(latin1, 'text/html; Charset="ISO-8859-1"').text).toBe('<p>café</p>');
    const meta = Buffer.from('<meta charset="windows-1252"><p>\xe9</p>', 'latin1');
    expect(decodeBody(meta, 'text/html').text).toBe('<meta charset="windows-1252"><p>é</p>');
    const equiv = Buffer.from(
      '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>\xc1</p>',
      'latin1',
    );
    expect(decodeBody(equiv, 'TEXT/HTML')).toMatchObject({ charset: 'koi8-r' });
    expect(decodeBody(equiv, 'TEXT/HTML').text).toContain('<p>а</p>'); // Cyrillic a
    expect(decodeBody(Buffer.from('<p>é</p>'), 'text/html').text).toBe('<p>é</p>');
    expect(decodeBody(Buffer.from('x'), 'text/html; charset=no-such-thing').charset).toBe('utf-8');
  });

  it('matches content types case-insensitively and reads the title', () => {
    expect(isHtml('Text/HTML; charset=UTF-8')).toBe(true);
    expect(isHtml('application/xhtml+xml')).toBe(true);
    expect(isHtml('text/plain')).toBe(false);
    expect(isHtml('application/json; x=text/html')).toBe(false);
    expect(extractTitle('<html><title> Hello\n  world </title>')).toBe('Hello world');
    expect(extractTitle('<p>none</p>')).toBe('');
    expect(normalizeUrl('http://[bad')).toBeNull();
  });

  it("loads htmlparser2's Parser alone, not the DOM and feed modules of the package root", () => {
    // The file is found beside the package's main module: an htmlparser2 that moved it fails here.
    expect(fs.existsSync(parserFile())).toBe(true);
    const links = path.resolve(fileURLToPath(import.meta.url), '../../../dist/crawler/links.js');
    const script = `const { parseHtml } = await import(${JSON.stringify(links)});
      const { createRequire } = await import('node:module');
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({ links: parseHtml('<a href=/x>x</a>', 'http://h.test/').links, loaded }));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    const { links: found, loaded } = JSON.parse(output) as { links: string[]; loaded: string[] };
    expect(found).toEqual(['http://h.test/x']);
    expect(loaded.some((file) => file.endsWith(`${path.sep}Parser.js`))).toBe(true);
    expect(
      loaded.filter((file) => /[\\/](domhandler|domutils|dom-serializer)[\\/]/.test(file)),
    ).toEqual([]);
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

  it('uses only the group of its product token (RFC 9309), with * and $ and Crawl-delay', () => {
    const text =
      'User-agent: *\nDisallow: /\n\nUser-agent: MyBot\nDisallow: /*.pdf$\nDisallow: /tmp\nAllow: /tmp/ok\nCrawl-delay: 2\n';
    const mine = new Robots(text, 'mybot/2.1', 'http://site.test');
    expect(mine.allows('/page')).toBe(true); // the * group does not apply to mybot
    expect(mine.allows('/a.pdf')).toBe(false);
    expect(mine.allows('/a.pdf?x=1')).toBe(true);
    expect(mine.allows('http://site.test/tmp/x')).toBe(false);
    expect(mine.allows('/tmp/ok/x')).toBe(true);
    expect(mine.crawlDelaySeconds()).toBe(2);
    const other = new Robots(text, 'otherbot', 'http://site.test');
    expect(other.allows('/page')).toBe(false);
    expect(other.crawlDelaySeconds()).toBeUndefined();
  });
});

describe('fetcher', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterSeconds('3')).toBe(3);
    expect(retryAfterSeconds(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3);
    expect(retryAfterSeconds('soon')).toBeUndefined();
    expect(retryAfterSeconds(undefined)).toBeUndefined();
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
    expect(extractTitle(home.body.toString())).toBe('Page 0');
    expect(extractLinks(home.body.toString(), site.url)).toContain(`${site.url}page/1`);
    expect((await fetchPage(`${site.url}robots.txt`)).body.toString()).toContain(
      'Disallow: /private/',
    );
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

describe('the workers bundle', () => {
  it('is used only while it is newer than every dist/ file it was made from', () => {
    const directory = tempDir('crawl-bundle');
    const bundle = path.join(directory, 'runner', 'crawl-worker.bundle.js');
    const input = path.join(directory, 'crawler', 'crawl-handler.js');
    fs.mkdirSync(path.dirname(bundle), { recursive: true });
    fs.mkdirSync(path.dirname(input), { recursive: true });
    const setTime = (file: string, seconds: number) => fs.utimesSync(file, seconds, seconds);
    fs.writeFileSync(input, '');
    fs.writeFileSync(bundle, '');
    expect(isCurrentBundle(bundle)).toBe(false); // no list of its inputs: a failed build
    fs.writeFileSync(
      bundle.replace(/\.js$/, '.json'),
      JSON.stringify({ inputs: ['../crawler/crawl-handler.js'] }),
    );
    setTime(input, 1_000);
    setTime(bundle, 2_000);
    expect(isCurrentBundle(bundle)).toBe(true);
    setTime(input, 3_000); // compiled again (tsc alone) after the bundle was made
    expect(isCurrentBundle(bundle)).toBe(false);
    setTime(bundle, 3_000);
    expect(isCurrentBundle(bundle)).toBe(true);
    fs.rmSync(input);
    expect(isCurrentBundle(bundle)).toBe(false);
    expect(isCurrentBundle(path.join(directory, 'missing.js'))).toBe(false);
  });
});
