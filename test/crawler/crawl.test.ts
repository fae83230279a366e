import { execFile, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LeaseHolder, WorkQueue } from '../../src/collections/work-queue.js';
import { crawl, describeWaiting } from '../../src/crawler/crawl.js';
import type { PageRecord } from '../../src/crawler/crawl-handler.js';
import { type DemoSite, startDemoSite } from '../../src/crawler/demo-site.js';
import { formatProgressLine } from '../../src/runner/progress.js';
import { compiledFixture, exited, FIXTURES, forkFixture, message } from '../helpers/children.js';
import { recorded } from '../helpers/crawl-records.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

/**
 * The crawl-run fixture as fork's [file, execArgv] start: this run's transpiled copy by plain node
 * (its workers then need no tsx either), else the TypeScript file through tsx.
 */
function crawlRun(): { file: string; execArgv: string[] } {
  const compiled = compiledFixture('crawl-run.ts');
  if (compiled) return { file: compiled, execArgv: [] };
  return { file: path.join(FIXTURES, 'crawl-run.ts'), execArgv: ['--import', 'tsx'] };
}

describe('crawl', () => {
  let site: DemoSite;
  beforeAll(async () => {
    site = await startDemoSite({ pages: 150, seed: 3, slowMs: 30 });
  });
  afterAll(() => site.close());

  it('resumes at once after the whole crawl (parent and workers) is SIGKILLed, losing nothing it recorded', async () => {
    const resumeSite = await startDemoSite({ pages: 200, seed: 11, slowMs: 60 });
    try {
      const directory = tempDir('crawl-resume');
      // Detached: its own process group, so one kill takes the runner and its workers at once.
      // Leases of 120 s: a rerun that waited for the dead run's leases would time the test out.
      const args = [resumeSite.url, directory, '2', '120'];
      const run = crawlRun();
      const child = fork(run.file, args, {
        execArgv: run.execArgv,
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

      const started = performance.now();
      let firstNewPage: number | undefined;
      let waited = false;
      const summary = await crawl({
        startUrl: resumeSite.url,
        directory,
        processes: 2,
        concurrency: 4,
        onProgress: (progress) => {
          if (progress.waitingFor) waited = true;
          if (firstNewPage === undefined && progress.done > before.size)
            firstNewPage = (performance.now() - started) / 1000;
        },
      });
      const seconds = (performance.now() - started) / 1000;
      // The dead run's pages were taken back at once: no wait for their leases, nothing to wait for.
      console.log(
        `resume after SIGKILL: first new page after ${firstNewPage?.toFixed(2)} s, done after ${seconds.toFixed(2)} s (${summary.pages - before.size} pages), ${resumeSite.duplicateFetches().length} fetched twice`,
      );
      expect(waited).toBe(false);
      expect(firstNewPage).toBeLessThan(30);
      expect(seconds).toBeLessThan(60);
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

  it('counts its records by status from their tags, and by reading them where a record has none', async () => {
    const directory = tempDir('crawl-tags');
    const first = await crawl({ startUrl: site.url, directory, processes: 2 });
    expect(first.reason).toBe('drained');
    // The summary's counts are the records' own, whichever way they were counted.
    const byStatus: Record<string, number> = {};
    for (const record of recorded(directory).values()) {
      const status = record.skipped ?? String(record.status);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    }
    expect(first.byStatus).toEqual(byStatus);
    expect(first.pages).toBe(recorded(directory).size);
    const queue = new WorkQueue<unknown>(directory);
    expect(Object.fromEntries(queue.results.cache.tagCounts())).toEqual(byStatus);
    // A record stored without a tag (by a version before tags): the rerun reads every record.
    const home = queue.results.get(site.url) as PageRecord;
    queue.results.set(site.url, { ...home, status: 299 });
    queue.close();
    const again = await crawl({ startUrl: site.url, directory, processes: 1 });
    expect(again).toMatchObject({ resumed: true, pages: first.pages });
    expect(again.byStatus).toEqual({ ...byStatus, '200': byStatus['200']! - 1, '299': 1 });
  }, 120_000);

  it('workers whose parent died stop quietly: no stack trace, no process left', async () => {
    const orphanSite = await startDemoSite({ pages: 200, seed: 13, slowMs: 60 });
    const directory = tempDir('crawl-orphans');
    const log = path.join(directory, 'stderr.log');
    const stderr = fs.openSync(log, 'w');
    try {
      // stdout a pipe that this test closes once the parent is dead (a worker writing to it gets
      // EPIPE), stderr a file to read afterwards; detached, to wait for the whole group.
      const run = crawlRun();
      const child = fork(run.file, [orphanSite.url, directory, '2'], {
        execArgv: run.execArgv,
        detached: true,
        stdio: ['ignore', 'pipe', stderr, 'ipc'],
      });
      await new Promise<void>((resolve) => {
        child.on('message', (message: { type: string; done?: number }) => {
          if (message.type === 'progress' && (message.done ?? 0) >= 20) resolve();
        });
      });
      child.kill('SIGKILL'); // the parent only: its workers lose their IPC channel
      expect(await exited(child)).toBe('SIGKILL');
      child.stdout!.destroy();
      await until(
        () => {
          try {
            process.kill(-child.pid!, 0);
            return false;
          } catch {
            return true; // ESRCH: no process of the group is left
          }
        },
        'every worker has exited',
        { timeoutMs: 60_000 },
      );
      const text = fs.readFileSync(log, 'utf8');
      expect(text).not.toMatch(/\n\s+at |Error|EPIPE/);
    } finally {
      fs.closeSync(stderr);
      await orphanSite.close();
    }
  });

  it('says what it waits for while another process that still runs holds pages', async () => {
    const directory = tempDir('crawl-held');
    const queue = new WorkQueue(directory);
    queue.put({ url: site.url, depth: 0 }, { key: site.url });
    queue.close();
    // A live process holds the start page for 3 s: the crawl waits for it, and says so.
    const holder = forkFixture('queue-hold.ts', [directory, '1', '3']);
    await message(holder);
    try {
      const lines = new Set<string>();
      const summary = await crawl({
        startUrl: site.url,
        directory,
        processes: 1,
        onProgress: (progress) => {
          if (progress.waitingFor) lines.add(formatProgressLine(progress));
        },
      });
      expect(summary).toMatchObject({ reason: 'drained', startErrors: [] });
      expect([...lines][0]).toMatch(
        new RegExp(
          `· waiting for 1 page leased by pid ${holder.pid} \\(alive\\) · lease ends in [0-3] s · 1 workers$`,
        ),
      );
    } finally {
      holder.kill('SIGKILL');
      await exited(holder);
    }
  });

  it('describes what it waits for, leaving out dead holders and its own workers', () => {
    const now = 1000;
    const held = (pid: number | undefined, status: LeaseHolder['status'], jobs: number) => ({
      pid,
      status,
      jobs,
      leaseEndsAt: now + 7.2,
    });
    expect(describeWaiting([held(1, 'dead', 3), held(2, 'alive', 4)], new Set([2]), now)).toBe(
      undefined,
    );
    expect(
      describeWaiting(
        [held(5, 'other-machine', 1), held(undefined, 'unknown', 2), held(6, 'supervised', 3)],
        new Set(),
        now,
      ),
    ).toBe(
      'waiting for 1 page leased by pid 5 on another machine · lease ends in 8 s; 2 pages leased by a process it cannot see · lease ends in 8 s; 3 pages leased by pid 6 (gone; its supervisor gives them back) · lease ends in 8 s',
    );
  });

  it('its parent only supervises: it loads neither the fetcher, the parser, the worker loop nor node:http, node:crypto or node:zlib', async () => {
    // A crawl from the compiled package in a process of its own, whose module resolutions a
    // hook writes down (the hook is not passed on to the workers, which load all of these).
    const scratch = tempDir('crawl-parent-modules');
    const list = path.join(scratch, 'resolved.txt');
    const hooks = path.join(scratch, 'hooks.mjs');
    fs.writeFileSync(
      hooks,
      `import * as fs from 'node:fs';
      export async function resolve(specifier, context, next) {
        const resolved = await next(specifier, context);
        fs.appendFileSync(${JSON.stringify(list)}, resolved.url + '\\n');
        return resolved;
      }`,
    );
    const register = path.join(scratch, 'register.mjs');
    fs.writeFileSync(
      register,
      `import { register } from 'node:module';
      register(${JSON.stringify(pathToFileURL(hooks).href)});`,
    );
    const index = path.resolve(FIXTURES, '../../dist/crawler/index.js');
    const script = `const { crawl } = await import(${JSON.stringify(index)});
      const summary = await crawl({ startUrl: ${JSON.stringify(site.url)}, directory: ${JSON.stringify(path.join(scratch, 'crawl'))}, maxPages: 20 });
      const builtins = process.moduleLoadList.filter((name) => /^NativeModule (https?|crypto|zlib)$/.test(name));
      console.log(JSON.stringify({ pages: summary.pages, builtins }));`;
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', pathToFileURL(register).href, '--input-type=module', '-e', script],
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const { pages, builtins } = JSON.parse(output) as { pages: number; builtins: string[] };
    expect(pages).toBeGreaterThanOrEqual(20);
    const resolved = fs.readFileSync(list, 'utf8').split('\n');
    expect(resolved.some((url) => url.endsWith('/dist/crawler/crawl.js'))).toBe(true);
    expect(
      resolved.filter((url) =>
        /\/(crawl-handler|fetcher|links|robots|worker-loop)\.js$|\/node_modules\/(htmlparser2|robots-parser|p-queue)\/|^node:https?$/.test(
          url,
        ),
      ),
    ).toEqual([]);
    // Each costs every process that loads it memory (node:crypto about 0.5 MiB).
    expect(builtins).toEqual([]);
  });

  it('rejects bad options with errors that name them', async () => {
    await expect(crawl({ startUrl: 'ftp://x', directory: tempDir('crawl') })).rejects.toThrow(
      /startUrl/,
    );
    await expect(
      crawl({ startUrl: site.url, directory: tempDir('crawl'), processes: 0 }),
    ).rejects.toThrow(/processes/);
  });
});
