/**
 * One crawl from several machines: every `crawl()` on the same Redis locator shares the frontier,
 * the records and the per-host rate. Here two crawls in one script stand for two machines (each
 * starts its own worker processes); on real machines, run the same command on each:
 *   diskcache crawl https://example.org/ --queue 'redis://10.0.0.5:6379/0#example' --rate 4
 * Run: REDIS_URL=redis://127.0.0.1:6379/0 npx tsx examples/redis-crawl.ts [url]
 * (no URL: the built-in demo site on 127.0.0.1). It uses the queue `#demo-crawl`, emptied first.
 */
import { type CrawlSummary, crawl, exportRecords, startDemoSite } from '../src/crawler/index.js';

const server = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const queue = `${server}#demo-crawl`;
const site = process.argv[2] === undefined ? await startDemoSite({ pages: 60 }) : undefined;
const options = {
  startUrl: process.argv[2] ?? site!.url,
  queue,
  processes: 1,
  concurrency: 4,
  rate: 20, // requests per second to the site, from both "machines" together
};
try {
  // Machine A starts over (`fresh` deletes the crawl's keys); machine B joins once A runs.
  let machineB: Promise<CrawlSummary> | undefined;
  const machineA = crawl({
    ...options,
    fresh: true,
    onProgress: () => {
      machineB ??= crawl(options);
    },
  });
  const a = await machineA;
  const b = await (machineB ?? crawl(options));
  // Each ends when the whole crawl is drained, and reports the whole crawl.
  console.log(`A: ${a.reason}, ${a.pages} URLs recorded; B: ${b.reason}, ${b.pages} URLs recorded`);
  console.log('by status:', a.byStatus);

  // The records are in Redis: export them from any machine.
  let titled = 0;
  await exportRecords(queue, 'jsonl', (line) => {
    if (JSON.parse(line).title) titled++;
  });
  console.log(`${titled} pages with a title; see them with: diskcache crawl export '${queue}'`);
  if (a.pages === 0 || a.pages !== b.pages)
    throw new Error('the two crawls did not share one crawl');
} finally {
  await site?.close();
}
