import { fork } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { crawl } from '../../src/crawler/crawl.js';
import type { PageRecord } from '../../src/crawler/crawl-handler.js';
import { type DemoSite, startDemoSite } from '../../src/crawler/demo-site.js';
import { exited, FIXTURES } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

/** The pages recorded in a crawl directory, by URL. */
function recorded(directory: string): Map<string, PageRecord> {
  const queue = new WorkQueue(directory);
  const pages = new Map(
    [...queue.results.entries()].map(([url, record]) => [String(url), record as PageRecord]),
  );
  queue.close();
  return pages;
}

describe('crawl', () => {
  let site: DemoSite;
  beforeAll(async () => {
    site = await startDemoSite({ pages: 150, seed: 3, slowMs: 30 });
  });
  afterAll(() => site.close());

  it('resumes after the whole crawl (parent and workers) is SIGKILLed, losing nothing it recorded', async () => {
    const resumeSite = await startDemoSite({ pages: 200, seed: 11, slowMs: 60 });
    try {
      const directory = tempDir('crawl-resume');
      // Detached: its own process group, so one kill takes the runner and its workers at once.
      const child = fork(path.join(FIXTURES, 'crawl-run.ts'), [resumeSite.url, directory, '2'], {
        execArgv: ['--import', 'tsx'],
        detached: true,
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      await new Promise<void>((resolve, reject) => {
        child.on('message', (message: { type: string; done?: number }) => {
          if (message.type === 'progress' && (message.done ?? 0) >= 40) resolve();
          if (message.type === 'summary')
            reject(new Error('the crawl finished before it could be killed'));
        });
      });
      process.kill(-child.pid!, 'SIGKILL');
      expect(await exited(child)).toBe('SIGKILL');
      const before = recorded(directory);
      expect(before.size).toBeGreaterThanOrEqual(40);
      expect(before.size).toBeLessThan(200);

      const summary = await crawl({
        startUrl: resumeSite.url,
        directory,
        processes: 2,
        concurrency: 4,
        leaseSeconds: 2,
      });
      expect(summary.resumed).toBe(true);
      expect(summary.reason).toBe('drained');
      expect(summary.remaining).toBe(0);
      const after = recorded(directory);
      const titles = new Set(
        [...after.values()].filter((page) => page.status === 200).map((page) => page.title),
      );
      expect(titles.size).toBe(resumeSite.reachablePages);
      // Everything recorded before the kill is still there. Delivery is at-least-once: a page
      // whose record was written but whose job was not yet marked done when the kill came is
      // fetched again — at most the pages in flight (2 processes x 4), by the site's own count.
      const content = ({ fetchedAt: _at, elapsed: _elapsed, ...rest }: PageRecord) => rest;
      for (const [url, page] of before) {
        const now = after.get(url);
        expect(now && content(now), url).toEqual(content(page));
      }
      expect(resumeSite.duplicateFetches().length).toBeLessThanOrEqual(2 * 4);
    } finally {
      await resumeSite.close();
    }
  });

  it('defers links beyond --max-pages and --max-depth, says so, and a rerun with higher limits fetches them', async () => {
    const limitSite = await startDemoSite({ pages: 60, seed: 5, slowMs: 1 });
    try {
      const directory = tempDir('crawl-limits');
      const first = await crawl({
        startUrl: limitSite.url,
        directory,
        processes: 1,
        concurrency: 1,
        maxPages: 12,
        maxDepth: 3,
      });
      expect(first.reason).toBe('drained');
      expect(first.pages).toBe(12); // one process, one at a time: the limit is exact
      expect(first.deferred['max-pages']).toBeGreaterThan(0);
      // Higher limits: the deferred links are queued and the crawl continues from them.
      const third = await crawl({ startUrl: limitSite.url, directory, processes: 2, maxDepth: 60 });
      expect(third.requeued).toBeGreaterThan(0);
      expect(third.resumed).toBe(true);
      expect(third.deferred).toEqual({ 'max-depth': 0, 'max-pages': 0 });
      const titles = new Set(
        [...recorded(directory).values()].filter((p) => p.status === 200).map((p) => p.title),
      );
      expect(titles.size).toBe(limitSite.reachablePages);
      expect(limitSite.duplicateFetches()).toEqual([]); // nothing fetched twice over three runs
    } finally {
      await limitSite.close();
    }
  }, 120_000);

  it('rejects bad options with errors that name them', async () => {
    await expect(crawl({ startUrl: 'ftp://x', directory: tempDir('crawl') })).rejects.toThrow(
      /startUrl/,
    );
    await expect(
      crawl({ startUrl: site.url, directory: tempDir('crawl'), processes: 0 }),
    ).rejects.toThrow(/processes/);
  });
});
