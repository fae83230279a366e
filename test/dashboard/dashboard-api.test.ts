/**
 * The dashboard's HTTP API against real directories: the token rules (401 on every route without
 * the token or with a wrong one, and nothing changes; GET takes the token in the query; an action
 * needs it in the Authorization header), the counts, the failed list, retry and purge, a crawl's
 * pages, a Cache's figures, the security headers and the offline page; a Redis locator's password
 * never appears; and `diskcache dashboard` as a real process (one line on stdout, Ctrl-C exits 0).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/cache.js';
import { openQueue } from '../../src/collections/open-queue.js';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { type Dashboard, startDashboard } from '../../src/dashboard/server.js';
import {
  DashboardSourceError,
  displayLocator,
  scrub,
  secretsOf,
} from '../../src/dashboard/sources.js';
import { MAIN, ROOT, runCli } from '../cli/run-cli.js';
import { findRedisServer, RedisServer, redisTitle } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

/** A queue with `failed` failed jobs, `done` done jobs and `pending` pending ones. */
function makeQueue(directory: string, counts: { failed: number; done: number; pending: number }) {
  const queue = new WorkQueue<string>(directory, { maxAttempts: 1 });
  queue.putMany(Array.from({ length: counts.failed }, (_, i) => `bad-${i}`));
  for (let i = 0; i < counts.failed; i++) queue.take()!.fail(new Error(`boom ${i}`));
  queue.putMany(Array.from({ length: counts.done }, (_, i) => `ok-${i}`));
  for (let i = 0; i < counts.done; i++) queue.take()!.ack();
  queue.putMany(Array.from({ length: counts.pending }, (_, i) => `todo-${i}`));
  queue.close();
}

/** A crawl directory as the crawler leaves it: one page record per acked URL. */
function makeCrawl(directory: string): void {
  const queue = new WorkQueue<{ url: string }>(directory);
  const pages = [
    ['http://a.test/', 200, 100],
    ['http://a.test/x', 200, 101],
    ['http://a.test/missing', 404, 102],
    ['http://b.test/', 200, 103],
  ] as const;
  for (const [url, status, fetchedAt] of pages) {
    queue.put({ url }, { key: url });
    queue.take()!.ack({
      url,
      finalUrl: url,
      redirects: [],
      status,
      contentType: 'text/html',
      title: `title of ${url}`,
      bytes: 10,
      outlinks: [],
      depth: 0,
      fetchedAt,
      elapsed: 0.01,
    });
  }
  queue.put({ url: 'http://a.test/later' }, { key: 'http://a.test/later' });
  queue.close();
}

function stats(directory: string) {
  const queue = new WorkQueue(directory);
  try {
    return queue.stats();
  } finally {
    queue.close();
  }
}

/** A request to the dashboard; `token` in the query, `bearer` in the header. */
async function call(
  dashboard: Dashboard,
  route: string,
  options: { method?: string; token?: string; bearer?: string } = {},
): Promise<Response> {
  const url = new URL(route, `http://127.0.0.1:${dashboard.port}`);
  if (options.token !== undefined) url.searchParams.set('token', options.token);
  const controller = new AbortController();
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers: options.bearer === undefined ? {} : { authorization: `Bearer ${options.bearer}` },
    signal: controller.signal,
  });
  // An event stream never ends: keep its headers, drop the connection.
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) controller.abort();
  return response;
}

/** The event stream's text up to its `samples`-th sample event. */
async function eventText(dashboard: Dashboard, samples: number): Promise<string> {
  const url = `http://127.0.0.1:${dashboard.port}/api/events?token=${dashboard.token}`;
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = response.body!.getReader();
  let text = '';
  while ((text.match(/event: sample/g) ?? []).length < samples) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  controller.abort();
  return text;
}

const GETS = [
  '/',
  '/app.js',
  '/app.css',
  '/uplot.js',
  '/uplot.css',
  '/api/queues',
  '/api/queues/0/failed',
  '/api/queues/1/crawl',
  '/api/caches',
  '/api/state',
  '/api/events',
];
const POSTS = ['/api/queues/0/retry-failed', '/api/queues/0/purge-done'];

describe('dashboard API on directories', () => {
  let jobs: string;
  let crawl: string;
  let cacheDir: string;
  let dashboard: Dashboard;

  beforeAll(async () => {
    const root = tempDir('dashboard');
    jobs = path.join(root, 'jobs');
    crawl = path.join(root, 'crawl');
    cacheDir = path.join(root, 'cache');
    makeQueue(jobs, { failed: 3, done: 2, pending: 4 });
    makeCrawl(crawl);
    const cache = new Cache(cacheDir);
    cache.stats({ enable: true });
    cache.set('k', 'v');
    cache.get('k');
    cache.get('absent');
    cache.close();
    dashboard = await startDashboard({ locators: [jobs, crawl, cacheDir], intervalMs: 100 });
  });
  afterAll(async () => {
    await dashboard?.close();
  });

  it('answers 401 on every route without the token or with a wrong one, and changes nothing', async () => {
    const before = stats(jobs);
    const wrong = `${dashboard.token.slice(0, -1)}${dashboard.token.endsWith('A') ? 'B' : 'A'}`;
    for (const route of [...GETS, '/no/such/page']) {
      for (const options of [{}, { token: wrong }, { bearer: wrong }, { token: '' }]) {
        const response = await call(dashboard, route, options);
        expect(response.status, `${route} ${JSON.stringify(options)}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
    for (const route of POSTS) {
      for (const options of [{}, { bearer: wrong }, { token: wrong }]) {
        const response = await call(dashboard, route, { ...options, method: 'POST' });
        expect(response.status, route).toBe(401);
      }
    }
    expect(stats(jobs)).toEqual(before);
  });

  it('refuses an action whose token is only in the URL (a cross-site link cannot act)', async () => {
    const before = stats(jobs);
    for (const route of POSTS) {
      const response = await call(dashboard, route, { method: 'POST', token: dashboard.token });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toMatch(/Authorization header/);
    }
    expect(stats(jobs)).toEqual(before);
    expect(before).toEqual({ pending: 4, leased: 0, done: 2, failed: 3 });
  });

  it('serves every GET route with the token in the query or in the header', async () => {
    for (const route of GETS) {
      for (const options of [{ token: dashboard.token }, { bearer: dashboard.token }]) {
        const response = await call(dashboard, route, options);
        expect(response.status, route).toBe(200);
        expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      }
    }
  });

  it('lists the queues with their counts, exactly as the contract says', async () => {
    const response = await call(dashboard, '/api/queues', { token: dashboard.token });
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual([
      { locator: jobs, pending: 4, leased: 0, done: 2, failed: 3 },
      { locator: crawl, pending: 1, leased: 0, done: 4, failed: 0 },
    ]);
  });

  it('lists failed jobs with attempts and errors, within a limit', async () => {
    const all = (await (
      await call(dashboard, '/api/queues/0/failed', { bearer: dashboard.token })
    ).json()) as { id: number; attempts: number; error: string; payload: unknown }[];
    expect(all.map((job) => [job.payload, job.attempts])).toEqual([
      ['bad-0', 1],
      ['bad-1', 1],
      ['bad-2', 1],
    ]);
    expect(all[1]!.error).toMatch(/^Error: boom 1/);
    const one = await call(dashboard, '/api/queues/0/failed?limit=1', { bearer: dashboard.token });
    expect(((await one.json()) as unknown[]).length).toBe(1);
    const bad = await call(dashboard, '/api/queues/0/failed?limit=-1', { bearer: dashboard.token });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/limit must be an integer/);
  });

  it('summarizes a crawl: pages by status, hosts, most recent first', async () => {
    const response = await call(dashboard, '/api/queues/1/crawl', { token: dashboard.token });
    const view = (await response.json()) as {
      pages: number;
      byStatus: Record<string, number>;
      hosts: { host: string; pages: number }[];
      recent: { url: string; status: number }[];
    };
    expect(view.pages).toBe(4);
    expect(view.byStatus).toEqual({ 200: 3, 404: 1 });
    expect(view.hosts).toEqual([
      { host: 'a.test', pages: 3 },
      { host: 'b.test', pages: 1 },
    ]);
    expect(view.recent.map((page) => page.url)).toEqual([
      'http://b.test/',
      'http://a.test/missing',
      'http://a.test/x',
      'http://a.test/',
    ]);
    const notCrawl = await call(dashboard, '/api/queues/0/crawl', { token: dashboard.token });
    expect(notCrawl.status).toBe(404);
    const state = (await (
      await call(dashboard, '/api/state', { token: dashboard.token })
    ).json()) as {
      sample: { queues: { kind: string }[] };
    };
    await until(async () => {
      const latest = dashboard.monitor.latest.queues.map((queue) => queue.kind);
      return latest[0] === 'queue' && latest[1] === 'crawl';
    }, 'the sampler knows the second queue is a crawl');
    expect(state.sample.queues.length).toBe(2);
  });

  it("shows a Cache directory's size, volume, hits and misses", async () => {
    const response = await call(dashboard, '/api/caches', { token: dashboard.token });
    const [view] = (await response.json()) as Record<string, unknown>[];
    expect(view).toMatchObject({
      locator: cacheDir,
      size: 1,
      hits: 1,
      misses: 1,
      statistics: true,
    });
    expect(view!.volume).toBeGreaterThan(0);
  });

  it('answers 404 for an unknown queue and 405 for an action by GET', async () => {
    const missing = await call(dashboard, '/api/queues/9/retry-failed', {
      method: 'POST',
      bearer: dashboard.token,
    });
    expect(missing.status).toBe(404);
    const byGet = await call(dashboard, '/api/queues/0/retry-failed', { token: dashboard.token });
    expect(byGet.status).toBe(405);
    expect(byGet.headers.get('allow')).toBe('POST');
    expect(stats(jobs).failed).toBe(3);
  });

  it('retries failed jobs and purges done jobs by POST with the token in the header', async () => {
    const retry = await call(dashboard, '/api/queues/0/retry-failed', {
      method: 'POST',
      bearer: dashboard.token,
    });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ retried: 3 });
    expect(stats(jobs)).toEqual({ pending: 7, leased: 0, done: 2, failed: 0 });
    const purge = await call(dashboard, '/api/queues/0/purge-done', {
      method: 'POST',
      bearer: dashboard.token,
    });
    expect(await purge.json()).toEqual({ purged: 2 });
    expect(stats(jobs)).toEqual({ pending: 7, leased: 0, done: 0, failed: 0 });
    // The sampler sees it too, and a purge is no negative throughput.
    await until(() => dashboard.monitor.latest.queues[0]!.done === 0, 'the sampler sees the purge');
    expect(dashboard.monitor.history().rates[0]!.every((rate) => rate >= 0)).toBe(true);
  });

  it('serves a page that loads nothing from elsewhere, and a script that parses', async () => {
    const html = await (await call(dashboard, '/', { token: dashboard.token })).text();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain(`/app.js?token=${encodeURIComponent(dashboard.token)}`);
    const script = await (await call(dashboard, '/app.js', { token: dashboard.token })).text();
    expect(() => new vm.Script(script)).not.toThrow();
    const uplot = await (await call(dashboard, '/uplot.js', { token: dashboard.token })).text();
    expect(uplot).toMatch(/uPlot/);
  });

  it('streams a state event, then a sample about every interval', async () => {
    const text = await eventText(dashboard, 2);
    expect(text).toMatch(/^retry: 2000\n\nevent: state\ndata: \{"sample":/);
    const sample = JSON.parse(/event: sample\ndata: (.*)\n/.exec(text)![1]!) as {
      queues: { locator: string; pending: number; rate: number }[];
    };
    expect(sample.queues[0]).toMatchObject({ locator: jobs, rate: expect.any(Number) });
  });

  it('rejects what it cannot open, and bad options, with named errors', async () => {
    const missing = path.join(tempDir('dashboard-missing'), 'nope');
    await expect(startDashboard({ locators: [missing] })).rejects.toThrow(DashboardSourceError);
    const empty = tempDir('dashboard-empty');
    await expect(startDashboard({ locators: [empty] })).rejects.toThrow(
      /neither a work queue nor a cache/,
    );
    expect(fs.readdirSync(empty)).toEqual([]);
    await expect(startDashboard({ locators: [] })).rejects.toThrow(TypeError);
    await expect(startDashboard({ locators: [jobs], port: 70_000 })).rejects.toThrow(
      /port must be an integer from 0 to 65535, got 70000/,
    );
  });
});

describe('displayLocator and scrub', () => {
  it('drops the credentials of a Redis locator and resolves a directory', () => {
    expect(displayLocator('redis://user:pa55@example.test:6380/2#jobs')).toBe(
      'redis://example.test:6380/2#jobs',
    );
    expect(displayLocator('rediss://:pa55@example.test#q')).toBe('rediss://example.test:6379/0#q');
    expect(displayLocator('relative/dir')).toBe(path.resolve('relative/dir'));
  });

  it('scrubs the password (as written and decoded) from a text, never a short user name', () => {
    const secrets = secretsOf('redis://u:pa%2Fss@example.test/0#q');
    expect(secrets).toEqual(['pa%2Fss', 'pa/ss']);
    expect(scrub('user u: auth pa/ss refused (pa%2Fss)', secrets)).toBe(
      'user u: auth *** refused (***)',
    );
  });
});

describe.skipIf(!findRedisServer())(
  redisTitle('dashboard API on a Redis locator with a password'),
  () => {
    let server: RedisServer;
    let dashboard: Dashboard;
    const PASSWORD = 'pa55-word-never-shown';

    beforeAll(async () => {
      server = await RedisServer.start();
    });
    afterAll(async () => {
      await dashboard?.close();
      await server?.stop();
    });

    it('never shows the password: not in the API, the page or the event stream', async () => {
      // The default user takes any password (nopass), so the locator connects with one.
      const locator = `redis://default:${PASSWORD}@127.0.0.1:${server.port}/0#jobs`;
      // A queue never created is refused (as a missing directory is), and stays uncreated.
      const refused = await startDashboard({ locators: [locator], intervalMs: 100 }).catch(
        (error: unknown) => error as Error,
      );
      expect(refused).toBeInstanceOf(DashboardSourceError);
      expect((refused as Error).message).toMatch(/#jobs does not exist .*nothing was created/);
      expect((refused as Error).message).not.toContain(PASSWORD);
      const admin = new Redis(server.port, '127.0.0.1');
      expect(await admin.dbsize()).toBe(0);
      await admin.quit();
      await (await openQueue(locator)).close(); // created, empty
      dashboard = await startDashboard({ locators: [locator], intervalMs: 100 });
      const shown = `redis://127.0.0.1:${server.port}/0#jobs`;
      const queues = await (
        await call(dashboard, '/api/queues', { token: dashboard.token })
      ).json();
      expect(queues).toEqual([{ locator: shown, pending: 0, leased: 0, done: 0, failed: 0 }]);
      let everything = await eventText(dashboard, 1);
      for (const route of GETS.filter(
        (route) => route !== '/api/events' && !route.includes('crawl'),
      ))
        everything += await (await call(dashboard, route, { token: dashboard.token })).text();
      expect(everything).toContain(shown);
      expect(everything).not.toContain(PASSWORD);
      expect(everything).not.toContain('default:');
    });
  },
);

describe('diskcache dashboard (the CLI, a real process)', () => {
  it('prints exactly one line with the address, serves it, and exits 0 on Ctrl-C', async () => {
    const directory = tempDir('dashboard-cli');
    makeQueue(directory, { failed: 1, done: 1, pending: 1 });
    const child = spawn(process.execPath, [MAIN, 'dashboard', directory, '--port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await until(() => stdout.includes('\n') || child.exitCode !== null, 'the dashboard line');
    const match = /^dashboard: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]+))\n$/.exec(stdout);
    expect(match, `${stdout}${stderr}`).not.toBeNull();
    const unauthorized = await fetch(`http://127.0.0.1:${match![2]}/api/queues`);
    expect(unauthorized.status).toBe(401);
    const counts = await (
      await fetch(`http://127.0.0.1:${match![2]}/api/queues?token=${match![3]}`)
    ).json();
    expect(counts).toEqual([{ locator: directory, pending: 1, leased: 0, done: 1, failed: 1 }]);
    // An open event stream must not keep the process alive after Ctrl-C.
    const stream = await fetch(`http://127.0.0.1:${match![2]}/api/events?token=${match![3]}`);
    expect(stream.status).toBe(200);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout.split('\n')).toEqual([match![0].trimEnd(), '']);
  });

  it('refuses a missing directory (exit 5); no locator, two directories, a bad port or locator (exit 2)', async () => {
    const missing = path.join(tempDir('dashboard-cli-missing'), 'nope');
    const result = await runCli(['dashboard', missing]);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/does not exist/);
    expect(fs.existsSync(missing)).toBe(false);
    expect((await runCli(['dashboard'])).code).toBe(2);
    const port = await runCli(['dashboard', missing, '--port', '70000']);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port must be an integer from 0 to 65535/);
    const twice = await runCli(['-d', `${missing}-other`, 'dashboard', missing]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/is not among the locators given/);
    // A malformed Redis locator is a usage error, and its password is not echoed.
    const malformed = await runCli(['dashboard', 'redis://user:hunter22@127.0.0.1:1/0']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/names its queue after '#'/);
    expect(malformed.stderr).not.toContain('hunter22');
  });
});
