/**
 * The page handler of examples/crawl-extract.ts: the crawler calls its default export in the
 * worker processes for every page fetched, and stores what it returns in the page's record.
 * It extracts the first <h1>, the meta description and the number of words of visible text.
 */
import { Parser } from 'htmlparser2';
import type { CrawledPage } from '../src/crawler/index.js';

export default function extract(page: CrawledPage): Record<string, unknown> | undefined {
  if (page.status !== 200 || !/html/i.test(page.contentType)) return undefined;
  let h1 = '';
  let inH1 = false;
  let sawH1 = false;
  let description = '';
  let words = 0;
  let hidden = 0; // inside <script>, <style>, <head>
  const parser = new Parser({
    onopentag(name, attributes) {
      if (name === 'script' || name === 'style' || name === 'head') hidden++;
      if (name === 'h1' && !sawH1) inH1 = true;
      if (name === 'meta' && attributes.name?.toLowerCase() === 'description')
        description = attributes.content ?? '';
    },
    ontext(text) {
      if (inH1) h1 += text;
      if (hidden === 0) words += text.split(/\s+/).filter(Boolean).length;
    },
    onclosetag(name) {
      if (name === 'script' || name === 'style' || name === 'head') hidden--;
      if (name === 'h1' && inH1) {
        inH1 = false;
        sawH1 = true;
      }
    },
  });
  parser.end(page.body);
  return { h1: h1.trim(), description, words };
}
