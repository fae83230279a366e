/**
 * One contender of bench/crawl.bench.ts, in a process of its own so that its memory can be
 * measured apart from the site it crawls. argv: kind ('diskcache' | 'memory' | 'crawlee' |
 * 'crawlee-disk': crawlee with its default storage on disk), start URL, processes, concurrency.
 * Prints one JSON line {pages, seconds, cpu: {self, children}} on stdout (CPU seconds of this
 * process and of its exited children: the crawl's workers).
 * Plain JavaScript on the compiled crawler (dist/, built by crawl.bench.ts), so that no process of
 * any contender carries tsx's loader: memory is the crawlers' own. Each contender imports its own
 * code only (crawlee's process does not load crawl() nor p-queue, and so on).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const [kind, startUrl, processes, concurrency] = process.argv.slice(2);

/** A bare crawler: everything in memory, one process, same parser; nothing survives a crash. */
async function memoryCrawl(start, parallel) {
  // Loaded here: the other contenders' processes must not carry them.
  const { request } = await import('undici');
  const { default: PQueue } = await import('p-queue');
  const { decodeBody, isHtml, parseHtml } = await import('../dist/crawler/links.js');
  const origin = new URL(start).origin;
  const seen = new Set([start]);
  const pool = new PQueue({ concurrency: parallel });
  let pages = 0;
  const visit = async (url, attempt = 1) => {
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

/**
 * crawlee's CheerioCrawler (bench/node_modules), same-origin links, at a fixed concurrency. Its
 * storage on disk (`persist`: crawlee's default, its request queue and state written to ./storage,
 * which the bench makes a fresh temporary directory) or in memory only (persistStorage: false).
 */
async function crawleeCrawl(start, parallel, persist) {
  const { CheerioCrawler, Configuration, EnqueueStrategy, log } = await import('@crawlee/cheerio');
  // Quiet: it would log a warning for each of the demo site's 503s (each is retried).
  log.setLevel(log.LEVELS.ERROR);
  const config = new Configuration({ persistStorage: persist, purgeOnStart: true });
  let pages = 0;
  const crawler = new CheerioCrawler(
    {
      minConcurrency: parallel,
      maxConcurrency: parallel,
      maxRequestRetries: 3,
      maxRequestsPerCrawl: 100_000,
      async requestHandler({ enqueueLinks }) {
        pages++;
        await enqueueLinks({ strategy: EnqueueStrategy.SameOrigin });
      },
      failedRequestHandler() {
        pages++;
      },
    },
    config,
  );
  await crawler.run([start]);
  return pages;
}

const began = performance.now();
let pages;
if (kind === 'memory') {
  pages = await memoryCrawl(startUrl, Number(concurrency) * Number(processes));
} else if (kind === 'crawlee' || kind === 'crawlee-disk') {
  pages = await crawleeCrawl(
    startUrl,
    Number(concurrency) * Number(processes),
    kind === 'crawlee-disk',
  );
} else {
  const { crawl } = await import('../dist/crawler/index.js');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'diskcache-bench-crawl-'));
  try {
    const summary = await crawl({
      startUrl: startUrl,
      directory,
      processes: Number(processes),
      concurrency: Number(concurrency),
      // Like the other contenders, no per-host cap below the concurrency (the default is 8).
      hostConcurrency: Number(concurrency),
    });
    pages = summary.pages;
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}
const seconds = (performance.now() - began) / 1000;

/**
 * CPU seconds of this process and of its children that have exited (the crawl's workers), from
 * /proc/self/stat (utime, stime, cutime, cstime); this process alone elsewhere.
 */
function cpuSeconds() {
  try {
    const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    const tick = (index) => Number(fields[index]) / 100; // USER_HZ
    return { self: tick(11) + tick(12), children: tick(13) + tick(14) };
  } catch {
    const { user, system } = process.cpuUsage();
    return { self: (user + system) / 1e6, children: 0 };
  }
}
process.stdout.write(`${JSON.stringify({ pages, seconds, cpu: cpuSeconds() })}\n`);
