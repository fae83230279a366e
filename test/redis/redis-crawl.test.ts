/**
 * A crawl on a Redis queue (`crawl --queue redis://…#name`), as from several machines: two
 * `diskcache crawl` processes started separately, each a process group of its own, on one Redis
 * queue with `--rate`: every reachable allowed page of the demo site is fetched exactly once
 * across both (counted by the site), both did part of the work, and the rate holds across both
 * (the site's arrival times, robots.txt included). One of two crawls SIGKILLed mid-way: the other
 * finishes the whole crawl. The trap site (redirects, Retry-After, resets) crawled as from a
 * directory. Then: a rerun resumes (nothing fetched again),
 * `--fresh` starts over, `crawl export` reads the records from Redis, the limits' deferred links
 * live in Redis too (a rerun with higher limits continues from them), and bad locators are clear
 * errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CrawlSummary, crawl } from '../../src/crawler/crawl.js';
import type { PageRecord } from '../../src/crawler/crawl-handler.js';
import { type DemoSite, startDemoSite } from '../../src/crawler/demo-site.js';
import { type CliResult, runCli } from '../cli/run-cli.js';
import { startTrapSite } from '../fixtures/crawl-site.js';
import { killGroup, killStartedGroups, startCliGroup } from '../helpers/process-group.js';
import { busiestWindow, spanSeconds } from '../helpers/rate.js';
import { findRedisServer, freePort, RedisServer, redisTitle } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

type Report = CrawlSummary & { readonly queue: string };

/** `diskcache crawl` in a process group of its own, as on another machine. */
const startCrawl = (args: readonly string[]) =>
  startCliGroup(['crawl', ...args], { DISKCACHE_DIR: '' });

afterEach(killStartedGroups);

async function exported(locator: string): Promise<PageRecord[]> {
  const result = await runCli(['crawl', 'export', locator, '--format', 'jsonl']);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PageRecord);
}

/** Distinct pages answered (`/` and `/page/0` are one page, with one title). */
function titles(records: readonly PageRecord[]): number {
  return new Set(records.filter((record) => record.status === 200).map((r) => r.title)).size;
}

describe.skipIf(!findRedisServer())(redisTitle('crawl on a Redis queue'), () => {
  let server: RedisServer;
  let site: DemoSite;
  /**
   * A crawl and a queue command on a Redis server that does not listen. Reporting one takes the
   * client's ~10 s of reconnection attempts (idle waiting), so they start with the file and the
   * bad-locator test below awaits them.
   */
  let unreachableRuns: Promise<[CliResult, CliResult]>;
  beforeAll(async () => {
    server = await RedisServer.start();
    site = await startDemoSite({ pages: 60, slowMs: 20 });
    const closed = await freePort();
    unreachableRuns = Promise.all([
      runCli(['crawl', site.url, '--queue', `redis://127.0.0.1:${closed}#nobody`]),
      runCli(['queue', 'stats', `redis://u:hunter2@127.0.0.1:${closed}#nobody`]),
    ]);
    unreachableRuns.catch(() => {}); // awaited by its test
  });
  afterAll(async () => {
    await site?.close();
    await server?.stop();
  });

  it('runs one crawl from two process groups: each page fetched once, the rate held across both', async () => {
    const locator = server.locator('two-machines');
    // A page handler that records which crawl (the workers' parent) fetched the page.
    const handler = path.join(tempDir('crawl-redis-handler'), 'parent.mjs');
    fs.writeFileSync(handler, 'export default () => ({ parent: process.ppid });\n');
    const rate = 10;
    const args = [site.url, '--queue', locator, '-p', '2', '-c', '4', '--rate', String(rate)];
    const one = startCrawl([...args, '--handler', handler, '--json']);
    const two = startCrawl([...args, '--handler', handler, '--json']);
    const [first, second] = await Promise.all([one.finished, two.finished]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const reports = [first, second].map((run) => JSON.parse(run.stdout) as Report);
    for (const report of reports) {
      expect(report).toMatchObject({ reason: 'drained', failed: 0, remaining: 0, startErrors: [] });
      expect(report.queue).toBe(locator);
    }

    // Every reachable allowed page exactly once across both (a deliberate 503 once more), the
    // disallowed and other-origin links never.
    expect(site.duplicateFetches()).toEqual([]);
    expect(site.hits.has('/private/secret')).toBe(false);
    const records = await exported(locator);
    expect(titles(records)).toBe(site.reachablePages);
    expect(new Set(records.map((record) => record.url)).size).toBe(records.length);
    // Both crawls fetched part of it.
    const fetched = records.filter((record) => record.status === 200);
    const parents = new Set(fetched.map((record) => record.parent));
    expect(parents).toEqual(new Set([one.child.pid, two.child.pid]));

    // robots.txt fetched once for the crawl, at most once per worker process (4 in all).
    expect(site.hits.get('/robots.txt')).toBeGreaterThanOrEqual(1);
    expect(site.hits.get('/robots.txt')).toBeLessThanOrEqual(4);
    // The rate holds across both: every request the site saw, robots.txt and retries included.
    // Wide slack for a loaded machine: no 2 s window above 2 × rate + 3, and the whole crawl
    // spans at least most of what the rate allows.
    const arrivals = site.arrivals;
    expect(arrivals.length).toBeGreaterThan(site.reachablePages);
    expect(busiestWindow(arrivals, 2000)).toBeLessThanOrEqual(2 * rate + 3);
    expect(spanSeconds(arrivals)).toBeGreaterThanOrEqual(((arrivals.length - 1) / rate) * 0.7);

    // A rerun on the same locator resumes a finished crawl: nothing fetched again.
    const before = new Map(site.hits);
    const again = await runCli(['crawl', site.url, '--queue', locator, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ resumed: true, pages: records.length });
    // (robots.txt too: it is stored in Redis with the crawl.)
    expect(new Map(site.hits)).toEqual(before);

    // --fresh deletes the crawl's keys and starts over.
    const fresh = await runCli(['crawl', site.url, '--queue', locator, '--fresh', '--json']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ resumed: false, pages: records.length });
    expect(site.hits.get('/')).toBe((before.get('/') ?? 0) + 1);
  }, 180_000);

  it('loses nothing when one machine is SIGKILLed mid-crawl: the other finishes it', async () => {
    const own = await startDemoSite({ pages: 80, slowMs: 20, seed: 7 });
    try {
      const locator = server.locator('one-killed');
      const args = [own.url, '--queue', locator, '-p', '2', '-c', '4', '--rate', '25', '--json'];
      const doomed = startCrawl(args);
      const survivor = startCrawl(args);
      const pagesSeen = () => [...own.hits.values()].reduce((sum, n) => sum + n, 0);
      await until(() => pagesSeen() >= 25, 'the site served 25 requests', { timeoutMs: 60_000 });
      killGroup(doomed.child);
      expect(pagesSeen()).toBeLessThan(own.reachablePages); // killed mid-crawl
      expect((await doomed.finished).signal).toBe('SIGKILL');
      const finished = await survivor.finished;
      expect(finished.code, finished.stderr).toBe(0);
      expect(JSON.parse(finished.stdout)).toMatchObject({ reason: 'drained', failed: 0 });
      // Every reachable page recorded; the pages the killed crawl held came back (after their
      // 10 s lease) and were fetched again: what it was running or had not yet acked.
      expect(titles(await exported(locator))).toBe(own.reachablePages);
      console.log(`one crawl SIGKILLed: ${own.duplicateFetches().length} pages fetched twice`);
      expect(own.duplicateFetches().length).toBeLessThanOrEqual(2 * 2 * 4);
    } finally {
      await own.close();
    }
  }, 180_000);

  it('on the trap site: every URL fetched as often as in a directory, Retry-After waited for', async () => {
    const traps = await startTrapSite();
    try {
      const maxAttempts = 3;
      const summary = await crawl({
        startUrl: traps.url,
        queue: server.locator('traps'),
        processes: 2,
        concurrency: 4,
        maxAttempts,
        timeoutSeconds: 5,
      });
      const hits = new Map(traps.hits);
      hits.delete('/robots.txt');
      expect(Object.fromEntries([...hits].sort())).toEqual(
        Object.fromEntries([...traps.expected(maxAttempts)].sort()),
      );
      // The 429's Retry-After (1 s) paused the host in Redis; the retry came after it.
      const [first, second] = traps.times.get('/limited')!;
      expect(second! - first!).toBeGreaterThanOrEqual(900);
      expect(summary).toMatchObject({ reason: 'drained', failed: 1, startErrors: [] });
    } finally {
      await traps.close();
    }
  }, 120_000);

  it('keeps deferred links in Redis: a rerun with higher limits continues from them', async () => {
    const queue = server.locator('limits');
    const first = await crawl({ startUrl: site.url, queue, maxPages: 10, concurrency: 4 });
    expect(first.reason).toBe('drained');
    expect(first.deferred['max-pages']).toBeGreaterThan(0);
    const second = await crawl({ startUrl: site.url, queue, maxPages: 1000, concurrency: 4 });
    expect(second).toMatchObject({ resumed: true, deferred: { 'max-depth': 0, 'max-pages': 0 } });
    expect(second.requeued).toBeGreaterThan(0);
    const records = await exported(queue);
    expect(titles(records)).toBe(site.reachablePages);
  }, 120_000);

  it('says what is wrong with a bad locator, before anything starts', async () => {
    const port = server.port;
    // The CLI runs are independent: run together (each is mostly node's start-up).
    const [noName, braces, noUrl, both, exportNoName, exportNone, secret] = await Promise.all([
      runCli(['crawl', site.url, '--queue', `redis://127.0.0.1:${port}`]),
      runCli(['crawl', site.url, '--queue', `redis://127.0.0.1:${port}#a{b}`]),
      runCli(['crawl', '--queue', server.locator('demo')]),
      runCli(['crawl', site.url, '-d', tempDir('crawl-both'), '--queue', server.locator('x')]),
      runCli(['crawl', 'export', `redis://127.0.0.1:${port}`]),
      runCli(['crawl', 'export', server.locator('no-crawl-here')]),
      runCli(['crawl', site.url, '--queue', `redis://u:hunter2@127.0.0.1:${port}`]),
    ]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/names its queue after '#'/);
    expect(braces.code).toBe(2);
    expect(braces.stderr).toMatch(/must not contain \{ or \}/);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/needs its start URL/);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two queues given/);
    expect(exportNoName.code).toBe(2);
    // Exporting a locator that names no queue is exit 5 and creates nothing (as queue stats).
    expect(exportNone.code).toBe(5);
    expect(exportNone.stderr).toMatch(/redis:.*#no-crawl-here does not exist/);
    const admin = new Redis(port, '127.0.0.1');
    try {
      expect(await admin.keys('dq:{no-crawl-here}:*')).toEqual([]);
    } finally {
      await admin.quit();
    }
    // A password in the locator is never printed.
    expect(secret.code).toBe(2);
    expect(secret.stderr).not.toContain('hunter2');

    await expect(
      crawl({ startUrl: site.url, directory: tempDir('crawl-both'), queue: server.locator('x') }),
    ).rejects.toThrow(/not both/);
    await expect(crawl({ startUrl: site.url, queue: 'redis://127.0.0.1#' })).rejects.toThrow(
      TypeError,
    );
    await expect(crawl({ startUrl: site.url } as never)).rejects.toThrow(/give directory/);

    // Nothing listens there: an error naming the server and what the connection met, not a hang
    // nor ioredis's "max retries per request" (a crawl, and a queue command, at the same time).
    const [unreachable, unreachableStats] = await unreachableRuns;
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toMatch(
      /Redis queue redis:\/\/127\.0\.0\.1:\d+#nobody did not answer: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(\d+ connection attempts in [\d.]+ s\)/,
    );
    expect(unreachableStats.code).toBe(6);
    expect(unreachableStats.stderr).toMatch(
      /^diskcache: the Redis server redis:\/\/u:\*\*\*@127\.0\.0\.1:\d+ did not answer: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(\d+ connection attempts in [\d.]+ s\)\n$/,
    );
    for (const result of [unreachable, unreachableStats]) {
      expect(result.stderr).not.toMatch(/maxRetriesPerRequest|hunter2/);
    }
  }, 120_000);
});
