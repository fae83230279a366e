/**
 * `npx tsx bench/dashboard-page.ts [--screenshot FILE] [--seconds N] [--scale F] [--height PX]`:
 * the dashboard on a realistic setup, measured in a real browser (headless /usr/bin/chromium
 * through playwright-core). It crawls the built-in demo site (150 pages, two processes) into a
 * crawl directory, fills a work queue with 20,000 jobs that a worker in this process drains at a
 * varying rate (about 3% fail), and opens a Cache directory with statistics on; then it serves the
 * three on a dashboard, lets the chart gather N seconds of history, opens the page and reports:
 * - the page's load time: from navigation to the first live sample drawn (counts and chart);
 * - the bytes it serves for one page view (HTML, scripts, styles and API answers; the event
 *   stream excepted), and the bytes of one sample event.
 * With --screenshot it saves the top --height CSS pixels of the page (1100 wide) as a PNG at
 * --scale device pixels per CSS pixel. docs/dashboard.png is made by
 * `npx tsx bench/dashboard-page.ts --screenshot docs/dashboard.png` (kept under 150 KB).
 * It reports; it never asserts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { Cache } from '../src/cache/cache.js';
import { WorkQueue } from '../src/collections/work-queue.js';
import { crawl, startDemoSite } from '../src/crawler/index.js';
import { startDashboard } from '../src/dashboard/server.js';
import { loadAverage } from './lib.js';

const { values } = parseArgs({
  options: {
    screenshot: { type: 'string' },
    seconds: { type: 'string', default: '40' },
    scale: { type: 'string', default: '0.8' },
    height: { type: 'string', default: '1150' },
  },
});
const seconds = Number(values.seconds);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'diskcache-dashboard-'));
const note = (text: string) => process.stderr.write(`dashboard-page: ${text}\n`);

try {
  // A finished crawl of the demo site.
  const crawlDir = path.join(root, 'crawl');
  const site = await startDemoSite({ pages: 150 });
  note(`crawling ${site.url} into ${crawlDir}`);
  const summary = await crawl({ startUrl: site.url, directory: crawlDir, processes: 2 });
  await site.close();
  note(`crawl ${summary.reason}: ${summary.pages} pages`);

  // A work queue drained at a varying rate, with a few failures that stay failed.
  const jobsDir = path.join(root, 'thumbnails');
  const queue = new WorkQueue<{ image: string }>(jobsDir, { maxAttempts: 1 });
  queue.putMany(
    Array.from({ length: 20_000 }, (_, i) => ({ image: `s3://photos/2026/12/img-${i}.jpg` })),
  );
  class TimeoutError extends Error {}
  TimeoutError.prototype.name = 'TimeoutError';
  const ERRORS = [
    new TimeoutError('the image service took longer than 5 s'),
    new Error('unsupported image format (HEIC)'),
    new Error('ENOENT: no such file or directory, open /cache/originals'),
  ];
  const started = Date.now();
  let turn = 0;
  const worker = setInterval(() => {
    const elapsed = (Date.now() - started) / 1000;
    const perSecond = 60 + 45 * Math.sin(elapsed / 6) + 20 * Math.sin(elapsed / 1.7);
    const jobs = queue.takeMany(Math.max(1, Math.round(perSecond / 10)));
    for (const job of jobs) {
      if (++turn % 37 === 0) job.fail(ERRORS[turn % ERRORS.length]);
      else job.ack({ width: 320, height: 240 });
    }
  }, 100);

  // A cache with hits and misses counted.
  const cacheDir = path.join(root, 'cache');
  const cache = new Cache(cacheDir);
  cache.stats({ enable: true });
  for (let i = 0; i < 2_000; i++) cache.set(`user:${i}`, { name: `user ${i}`, visits: i % 17 });
  for (let i = 0; i < 3_000; i++) cache.get(`user:${(i * 7) % 2_600}`);
  cache.close();

  const dashboard = await startDashboard({ locators: [jobsDir, crawlDir, cacheDir] });
  note(`serving ${dashboard.url}; gathering ${seconds} s of history`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage({
      viewport: { width: 1100, height: Number(values.height) },
      deviceScaleFactor: Number(values.scale),
    });
    let served = 0;
    const sizes: string[] = [];
    page.on('response', async (response) => {
      if (response.url().includes('/api/events')) return;
      const body = await response.body().catch(() => Buffer.alloc(0));
      served += body.length;
      sizes.push(`${new URL(response.url()).pathname} ${body.length}`);
    });
    const t0 = Date.now();
    await page.goto(dashboard.url);
    // Run in the page (a string: this file is type-checked without the DOM's types).
    await page.waitForFunction(
      `document.querySelector('#status').classList.contains('live') &&
       document.querySelector('#chart canvas') !== null &&
       document.querySelector('[data-queue="0"] tr[data-job]') !== null &&
       document.querySelector('[data-queue="1"] .chip') !== null`,
    );
    const loadMs = Date.now() - t0;
    await page.waitForLoadState('networkidle').catch(() => undefined);
    const sampleBytes = Buffer.byteLength(JSON.stringify(dashboard.monitor.latest));
    process.stdout.write(
      `page load to first live sample: ${loadMs} ms; served for one view: ${(served / 1024).toFixed(1)} KiB (${sizes.join(', ')}); one sample event: ${sampleBytes} bytes; load average ${loadAverage()}\n`,
    );
    if (values.screenshot) {
      await page.screenshot({ path: values.screenshot });
      note(`screenshot: ${values.screenshot} (${fs.statSync(values.screenshot).size} bytes)`);
    }
  } finally {
    await browser.close();
    clearInterval(worker);
    await dashboard.close();
    queue.close();
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
