/**
 * One contender of bench/crawl.bench.ts, in a process of its own so that its memory can be
 * measured apart from the site it crawls. argv: kind ('diskcache' | 'memory'), start URL,
 * processes, concurrency. Prints one JSON line {pages, seconds} on stdout.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import PQueue from 'p-queue';
import { request } from 'undici';
import { crawl } from '../src/crawler/index.js';
import { decodeBody, isHtml, parseHtml } from '../src/crawler/links.js';

const [kind, startUrl, processes, concurrency] = process.argv.slice(2);

/** A bare crawler: everything in memory, one process, same parser; nothing survives a crash. */
async function memoryCrawl(start: string, parallel: number): Promise<number> {
  const origin = new URL(start).origin;
  const seen = new Set<string>([start]);
  const pool = new PQueue({ concurrency: parallel });
  let pages = 0;
  const visit = async (url: string, attempt = 1): Promise<void> => {
    const response = await request(url);
    const body = Buffer.from(await response.body.arrayBuffer());
    const type = String(response.headers['content-type'] ?? '');
    if (response.statusCode >= 500 && attempt < 4) return visit(url, attempt + 1);
    pages++;
    if (response.statusCode !== 200 || !isHtml(type)) return;
    for (const link of parseHtml(decodeBody(body, type).text, url).links) {
      if (seen.has(link) || new URL(link).origin !== origin) continue;
      seen.add(link);
      void pool.add(() => visit(link));
    }
  };
  await pool.add(() => visit(start));
  await pool.onIdle();
  return pages;
}

const began = performance.now();
let pages: number;
if (kind === 'memory') {
  pages = await memoryCrawl(startUrl!, Number(concurrency) * Number(processes));
} else {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'diskcache-bench-crawl-'));
  try {
    const summary = await crawl({
      startUrl: startUrl!,
      directory,
      processes: Number(processes),
      concurrency: Number(concurrency),
    });
    pages = summary.pages;
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}
process.stdout.write(`${JSON.stringify({ pages, seconds: (performance.now() - began) / 1000 })}\n`);
