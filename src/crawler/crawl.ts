/**
 * crawl: a resumable, multi-process web crawler on the WorkQueue and the worker runner. The crawl
 * is a work queue whose jobs are URLs (keyed by URL, so each page is queued once) and whose
 * results store one record per URL; beside it (crawl-state.ts), the links deferred by the limits
 * (a rerun with higher limits queues them) and the politeness state shared by the processes. The
 * queue is a directory (SQLite), or a Redis locator: then every machine that runs the crawl on
 * the same locator shares one frontier, one set of records and one rate budget. Killing the crawl
 * at any moment loses nothing: run it again on the same queue and it carries on. This module
 * orchestrates; fetching and parsing live in crawl-handler.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkBoolean } from '../cache/checks.js';
import { Disk, PickleDisk } from '../cache/disk.js';
import type { AsyncWorkQueue } from '../collections/async-work-queue.js';
import { isRedisQueueLocator, openQueue } from '../collections/open-queue.js';
import type { LeaseHolder, WorkQueue } from '../collections/work-queue.js';
import { SqliteAsyncWorkQueue } from '../collections/work-queue-async.js';
import type { FailedJob } from '../collections/work-queue-types.js';
import { describeRedisTrouble, parseRedisLocator, redacted } from '../redis/redis-client.js';
import { type HandlerModule, handlerPath, loadHandler } from '../runner/handler.js';
import type { RunProgress } from '../runner/progress.js';
import { knownHandlerModule, type RunnerEvent, runWorkers } from '../runner/run-workers.js';
import { CRAWL_CONFIG_VARIABLE, type CrawlConfig, recordStatus } from './crawl-config.js';
// Types only: the workers load the fetcher and the parser, this (parent) process does not.
import type { CrawlJob, PageRecord } from './crawl-handler.js';
import { type CrawlState, type DeferredStore, openCrawlState } from './crawl-state.js';
import { normalizeUrl } from './urls.js';

/** Options of `crawl`. */
export interface CrawlOptions {
  /** The first page (or pages). */
  readonly startUrl: string | readonly string[];
  /**
   * The crawl directory (a work queue); run again on the same directory to resume. Give it or
   * `queue`.
   */
  readonly directory?: string;
  /**
   * The crawl's work queue by its locator: a directory (the same as `directory`), or
   * `redis://[user:password@]host[:port][/db]#name` for a crawl run from several machines: every
   * `crawl()` on the same locator shares the frontier, the records (the queue's results), the
   * deferred links and the per-host rate and pauses, all in Redis; nothing is kept on the local
   * disk. Give the same start URLs and options on every machine (each process reads robots.txt
   * once per origin). docs/scale-out.md#a-crawl-from-several-machines.
   */
  readonly queue?: string;
  /** Worker processes. @default 1 (docs/crawler.md#speed-and-memory says why) */
  readonly processes?: number;
  /** Pages each worker fetches at once. @default 8 */
  readonly concurrency?: number;
  /**
   * Link hops from a start page at most (0: the start pages only). Links beyond are deferred: a
   * rerun with a higher `maxDepth` fetches them. @default 10
   */
  readonly maxDepth?: number;
  /**
   * Pages queued at most, this run's and earlier runs' together. Links beyond are deferred.
   * Approximate under concurrency: each process checks the count before it queues a page's links,
   * so the crawl may exceed it by up to processes × concurrency pages' links. @default 10000
   */
  readonly maxPages?: number;
  /** Follow only links to the start pages' origins. @default true */
  readonly sameOrigin?: boolean;
  /** Follow only URLs matching this regex (tested on the absolute URL). */
  readonly include?: RegExp | string;
  /** Do not follow URLs matching this regex. */
  readonly exclude?: RegExp | string;
  /**
   * Requests per second to each host, shared by every process (robots.txt and retries included).
   * robots.txt's Crawl-delay lowers it for its host. @default undefined (no limit)
   */
  readonly rate?: number;
  /** Requests one process runs at once to one host. @default 8 */
  readonly hostConcurrency?: number;
  /** The User-Agent header, also the name robots.txt groups are matched against. */
  readonly userAgent?: string;
  /** Seconds before a request is abandoned (and retried). @default 10 */
  readonly timeoutSeconds?: number;
  /**
   * Seconds a worker holds a page before another may take it (renewed every third of it while
   * fetching). After a crash, a rerun on the same machine takes back at once the pages that the
   * dead processes held; it waits this long at most for pages held by processes it cannot see
   * (another machine) or that still run. @default 10
   */
  readonly leaseSeconds?: number;
  /** Tries per page before it goes to the failed list (5xx, 429, timeouts, resets). @default 4 */
  readonly maxAttempts?: number;
  /**
   * A page handler module (path or file URL) whose default export receives every fetched page
   * and returns extra fields for its record. It runs in the worker processes.
   */
  readonly handler?: HandlerModule;
  /**
   * Delete what the directory holds first (start over instead of resuming); on Redis, every key of
   * the crawl (its queue, records, deferred links, rate buckets and pauses). @default false
   */
  readonly fresh?: boolean;
  /**
   * Store the records as pickle (`PickleDisk`), so Python's `diskcache.Index(dir + '/results')`
   * reads each as a dict. The crawler's own fields are plain data, so nothing is lost; the fields
   * a page handler returns must then be plain data too (null, booleans, numbers, strings, arrays,
   * plain objects, Maps, Sets; no `undefined`, Date or class instance: such a page fails with the
   * TypeError). `false` stores them with v8's structured clone (Node reads them, Python does not).
   * A Redis queue ignores it: its records are JSON where JSON is exact, else structured clone.
   * @default true
   */
  readonly pickle?: boolean;
  /** Aborting stops the crawl gracefully; run it again to resume. */
  readonly signal?: AbortSignal;
  /** Progress, 4 times a second; `waitingFor` says what holds pages outside this run, if anything. */
  readonly onProgress?: (progress: RunProgress) => void;
  readonly onEvent?: (event: RunnerEvent) => void;
}

/** A page that failed every attempt. */
export interface CrawlFailure {
  readonly url: string;
  readonly error: string;
  readonly attempts: number;
}

/** How a crawl went. */
export interface CrawlSummary {
  /** 'drained': nothing left to fetch; 'stopped': the signal aborted (resume later). */
  readonly reason: 'drained' | 'stopped';
  /** Whether this run continued a crawl found in the directory. */
  readonly resumed: boolean;
  /** URLs recorded (fetched pages, redirects, dead links and robots-skipped URLs). */
  readonly pages: number;
  /** Records by HTTP status (or skip reason for URLs not fetched). */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Pages that failed every attempt (network errors, timeouts, 5xx, 429). */
  readonly failed: number;
  /** The first few of them, with their last error. */
  readonly failures: readonly CrawlFailure[];
  /** Pages still queued (non-zero when stopped). */
  readonly remaining: number;
  /** Links not queued because of `maxDepth`/`maxPages`, by reason; a rerun with higher limits continues from them. */
  readonly deferred: Readonly<{ 'max-depth': number; 'max-pages': number }>;
  /** Deferred links that this run queued (its limits were higher than the last run's). */
  readonly requeued: number;
  /** Why start pages could not be fetched (empty when they all were). */
  readonly startErrors: readonly string[];
  readonly restarts: number;
  readonly elapsedSeconds: number;
}

const here = fileURLToPath(import.meta.url);
/** The handler module next to this file (.ts under tsx, .js from dist). */
const HANDLER = path.join(path.dirname(here), `crawl-handler${path.extname(here)}`);
/** The workers' bundle, in dist/ only (scripts/build.mjs; crawl-worker.ts). */
const WORKER_BUNDLE = path.join(path.dirname(here), '..', 'runner', 'crawl-worker.bundle.js');

/**
 * Whether `bundle` can run the crawl's workers: it exists, and it is newer than each dist/ file
 * it was made from (listed beside it), so that a dist/ compiled again without bundling (tsc
 * alone) never runs old worker code. Exported for the tests.
 */
export function isCurrentBundle(bundle: string): boolean {
  try {
    const built = fs.statSync(bundle).mtimeMs;
    const { inputs } = JSON.parse(fs.readFileSync(bundle.replace(/\.js$/, '.json'), 'utf8')) as {
      inputs: string[];
    };
    const directory = path.dirname(bundle);
    return inputs.every((input) => fs.statSync(path.resolve(directory, input)).mtimeMs <= built);
  } catch {
    return false; // no bundle, no list, or an input gone
  }
}
/** How many failures the summary lists. */
const FAILURES_LISTED = 20;
/**
 * The workers' V8 options (bench --only crawl, docs/crawler.md#speed-and-memory):
 * - the young generation capped at 2 MB per semi-space (V8 grows it up to 16 MB): a page's
 *   garbage is short-lived and small, and each worker keeps about 13 MB less;
 * - with 2 or more workers, optimizing compilation on each worker's own thread: on V8's background
 *   threads its memory stays in their malloc arenas, about 3 MB per worker, and the cores are
 *   busy with the other workers anyway. A lone worker keeps the background thread: there it uses
 *   an idle core, and the crawl was about 20 % slower without it.
 */
function workerNodeOptions(processes: number): string[] {
  return processes > 1
    ? ['--max-semi-space-size=2', '--no-concurrent-recompilation']
    : ['--max-semi-space-size=2'];
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function regexSource(name: string, value: RegExp | string | undefined): string | null {
  if (value === undefined) return null;
  const source = value instanceof RegExp ? value.source : value;
  try {
    new RegExp(source);
  } catch (error) {
    throw new SyntaxError(`${name} is not a valid regular expression: ${(error as Error).message}`);
  }
  return source;
}

/**
 * The crawl's queue locator: `queue` (a directory or a Redis locator, checked here so that a bad
 * one fails before anything connects) or `directory`, made absolute.
 * @throws TypeError when neither or two different ones are given, or for a bad Redis locator.
 */
function crawlQueue({ directory, queue }: CrawlOptions): string {
  for (const [name, value] of [
    ['directory', directory],
    ['queue', queue],
  ] as const)
    if (value !== undefined && (typeof value !== 'string' || value === ''))
      throw new TypeError(`${name} must be a non-empty string, got ${String(value)}`);
  if (queue !== undefined && isRedisQueueLocator(queue)) {
    if (directory !== undefined)
      throw new TypeError(
        `give directory or a Redis queue, not both (a Redis crawl keeps nothing in a directory), got directory ${directory}`,
      );
    parseRedisLocator(queue);
    return queue;
  }
  const local = queue ?? directory;
  if (local === undefined)
    throw new TypeError('crawl(): give directory (a path) or queue (a path or a redis:// locator)');
  if (
    directory !== undefined &&
    queue !== undefined &&
    path.resolve(directory) !== path.resolve(queue)
  )
    throw new TypeError(`two crawl directories given: directory ${directory} and queue ${queue}`);
  return path.resolve(local);
}

function checkOptions(options: CrawlOptions) {
  if (options === null || typeof options !== 'object')
    throw new TypeError('crawl(options): options must be an object');
  const given = typeof options.startUrl === 'string' ? [options.startUrl] : options.startUrl;
  if (!Array.isArray(given) || given.length === 0)
    throw new TypeError('startUrl must be an http(s) URL or a non-empty array of them');
  const startUrls = given.map((url) => {
    const normalized = normalizeUrl(String(url));
    if (normalized === null) throw new TypeError(`startUrl must be an http(s) URL, got ${url}`);
    return normalized;
  });
  const queue = crawlQueue(options);
  const maxDepth = options.maxDepth ?? 10;
  if (!Number.isInteger(maxDepth) || maxDepth < 0)
    throw new RangeError(`maxDepth must be an integer >= 0, got ${String(options.maxDepth)}`);
  const rate = options.rate;
  if (rate !== undefined && (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0))
    throw new RangeError(`rate must be a number of requests per second > 0, got ${String(rate)}`);
  const timeoutSeconds = options.timeoutSeconds ?? 10;
  if (typeof timeoutSeconds !== 'number' || !(timeoutSeconds > 0))
    throw new RangeError(`timeoutSeconds must be > 0, got ${String(options.timeoutSeconds)}`);
  const config: CrawlConfig = {
    queue,
    origins:
      options.sameOrigin === false ? null : [...new Set(startUrls.map((u) => new URL(u).origin))],
    include: regexSource('include', options.include),
    exclude: regexSource('exclude', options.exclude),
    maxDepth,
    maxPages: positiveInteger('maxPages', options.maxPages, 10_000),
    timeoutSeconds,
    userAgent: options.userAgent ?? 'node-diskcache-crawler/0.1',
    rate: rate ?? null,
    hostConcurrency: positiveInteger('hostConcurrency', options.hostConcurrency, 8),
    maxRedirects: 10,
    maxRetryAfterSeconds: 120,
    handler: options.handler === undefined ? null : handlerPath(options.handler),
  };
  return {
    startUrls,
    config,
    processes: positiveInteger('processes', options.processes, 1),
    concurrency: positiveInteger('concurrency', options.concurrency, 8),
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts, 4),
    pickle: options.pickle === undefined ? true : checkBoolean('pickle', options.pickle),
  };
}

/** Queues the deferred links that the current limits allow; returns how many. */
async function requeueDeferred(
  queue: AsyncWorkQueue<CrawlJob>,
  deferred: DeferredStore,
  config: CrawlConfig,
): Promise<number> {
  const { pending, leased, done, failed } = await queue.stats();
  let room = config.maxPages - (pending + leased + done + failed);
  let requeued = 0;
  for await (const [url, link] of deferred.entries()) {
    if (room <= 0) break;
    if (link.depth > config.maxDepth) continue;
    const job: CrawlJob = link.redirects
      ? { url, depth: link.depth, redirects: link.redirects }
      : { url, depth: link.depth };
    if ((await queue.put(job, { key: url })) !== undefined) {
      room--;
      requeued++;
    }
    await deferred.delete(url);
  }
  return requeued;
}

function pages(count: number): string {
  return count === 1 ? '1 page' : `${count} pages`;
}

/**
 * What a crawl waits for, from the queue's lease holders: the pages held by processes other than
 * `ours` (this run's workers) that still run or that cannot be seen (another machine, an older
 * version); undefined when nothing is. Dead holders are left out: the next take reclaims them.
 * @example 'waiting for 3 pages leased by pid 1234 (alive) · lease ends in 8 s'
 */
export function describeWaiting(
  holders: readonly LeaseHolder[],
  ours: ReadonlySet<number> = new Set(),
  now = Date.now() / 1000,
): string | undefined {
  const parts: string[] = [];
  for (const { pid, status, jobs, leaseEndsAt } of holders) {
    if (status === 'dead' || (pid !== undefined && ours.has(pid))) continue;
    const who =
      status === 'unknown' || pid === undefined
        ? 'a process it cannot see'
        : status === 'other-machine'
          ? `pid ${pid} on another machine`
          : status === 'supervised'
            ? `pid ${pid} (gone; its supervisor gives them back)`
            : `pid ${pid} (alive)`;
    const ends = Math.max(0, Math.ceil(leaseEndsAt - now));
    parts.push(`${pages(jobs)} leased by ${who} · lease ends in ${ends} s`);
  }
  return parts.length === 0 ? undefined : `waiting for ${parts.join('; ')}`;
}

/** Why a start page failed, following its redirects through the records; undefined if it did not. */
async function startError(
  queue: AsyncWorkQueue<CrawlJob>,
  failedJobs: readonly FailedJob<CrawlJob>[],
  startUrl: string,
): Promise<string | undefined> {
  let url = startUrl;
  for (let hop = 0; hop <= 11; hop++) {
    const record = (await queue.results.get(url)) as PageRecord | undefined;
    if (record === undefined) {
      const failure = failedJobs.find((job) => job.key === url);
      if (failure) return failure.error || `${url}: failed`;
      return undefined; // not fetched yet (stopped) or deferred: not an error
    }
    if (record.skipped === 'robots') return `${url}: robots.txt disallows it`;
    if (record.skipped === 'redirect-out-of-scope') {
      const elsewhere = new URL(record.finalUrl).origin !== new URL(url).origin;
      return elsewhere
        ? `${url}: redirects to ${record.finalUrl}, another origin, which --same-origin does not follow: start from ${record.finalUrl}, or give --no-same-origin`
        : `${url}: redirects to ${record.finalUrl}, which --include/--exclude leave out`;
    }
    if (record.skipped) return `${url}: redirects to ${record.finalUrl} (${record.skipped})`;
    if (record.error) return `${url}: ${record.error}`;
    if (record.finalUrl !== url) {
      url = record.finalUrl;
      continue;
    }
    if (record.status >= 400) return `${url}: HTTP ${record.status}`;
    return undefined;
  }
  return `${startUrl}: too many redirects`;
}

/**
 * How many records the crawl holds, by status (or why they were skipped). In a directory, each
 * record's tag says it (`recordStatus`): one query. Records without one (stored by an older
 * version) or a queue on Redis: each record is read.
 */
async function countRecords(
  queue: AsyncWorkQueue<CrawlJob>,
  local: WorkQueue<CrawlJob> | undefined,
): Promise<{ pages: number; byStatus: Record<string, number> }> {
  const byStatus: Record<string, number> = {};
  let pages = 0;
  const tags = local?.results.cache.tagCounts();
  if (tags !== undefined && !tags.has(null)) {
    for (const [tag, count] of tags) {
      byStatus[String(tag)] = count;
      pages += count;
    }
    return { pages, byStatus };
  }
  for await (const [, value] of queue.results.entries()) {
    const record = value as PageRecord;
    pages++;
    const status = recordStatus(record);
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
  return { pages, byStatus };
}

/** Opens the crawl's queue (stored settings: later openers, the workers among them, inherit them). */
async function openCrawlQueue(
  config: CrawlConfig,
  options: CrawlOptions,
  maxAttempts: number,
  pickle: boolean,
): Promise<AsyncWorkQueue<CrawlJob>> {
  const settings = {
    leaseSeconds: options.leaseSeconds ?? 10,
    maxAttempts,
    backoffSeconds: 0.5,
  };
  if (!isRedisQueueLocator(config.queue)) {
    if (options.fresh) fs.rmSync(config.queue, { recursive: true, force: true });
    return openQueue<CrawlJob>(config.queue, { ...settings, disk: pickle ? PickleDisk : Disk });
  }
  try {
    if (options.fresh) {
      const { deleteRedisCrawl } = await import('./crawl-state-redis.js');
      await deleteRedisCrawl(config.queue);
    }
    return await openQueue<CrawlJob>(config.queue, settings);
  } catch (error) {
    throw new Error(
      `the crawl's Redis queue ${redacted(config.queue)} did not answer: ${describeRedisTrouble(error)?.reason ?? (error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }
}

/** Crawls from `startUrl` until nothing is left (or `signal` aborts); resumable. */
export async function crawl(options: CrawlOptions): Promise<CrawlSummary> {
  const { startUrls, config, processes, concurrency, maxAttempts, pickle } = checkOptions(options);
  if (config.handler !== null) await loadHandler(config.handler); // a clear error before forking
  const queue = await openCrawlQueue(config, options, maxAttempts, pickle);
  let state: CrawlState | undefined;
  const previous = process.env[CRAWL_CONFIG_VARIABLE];
  try {
    state = await openCrawlState(config.queue);
    const before = await queue.stats();
    const resumed = before.pending + before.leased + before.done + before.failed > 0;
    await queue.putMany(
      startUrls.map((url) => ({ url, depth: 0 })),
      { key: (job) => job.url },
    );
    const requeued = await requeueDeferred(queue, state.deferred(), config);

    // This run's workers, to tell their leases from those of other (older, crashed or parallel)
    // runs. Lease holders are known in a directory only (on Redis, the counts say it all).
    const local = queue instanceof SqliteAsyncWorkQueue ? queue.queue : undefined;
    const ours = new Set<number>();
    let waitingFor: string | undefined;
    let surveyedAt = 0;
    const onProgress = options.onProgress;
    process.env[CRAWL_CONFIG_VARIABLE] = JSON.stringify(config);
    knownHandlerModule(HANDLER, isCurrentBundle(WORKER_BUNDLE) ? WORKER_BUNDLE : undefined);
    const run = await runWorkers({
      queue: queue as AsyncWorkQueue<unknown>,
      handler: HANDLER,
      processes,
      concurrency,
      once: true,
      graceSeconds: 10,
      progressIntervalSeconds: 0.25,
      nodeOptions: workerNodeOptions(processes),
      // A page is fetched again after a crash only if it was running or not yet acked: at most
      // processes × concurrency of them.
      holdSlotUntilAcked: true,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(onProgress
        ? {
            onProgress: (progress: RunProgress) => {
              if (local && progress.leased > 0 && Date.now() - surveyedAt >= 1000) {
                surveyedAt = Date.now();
                waitingFor = describeWaiting(local.leaseHolders(), ours);
              } else if (progress.leased === 0) waitingFor = undefined;
              onProgress(waitingFor === undefined ? progress : { ...progress, waitingFor });
            },
          }
        : {}),
      onEvent: (event: RunnerEvent) => {
        if (event.type === 'spawn') ours.add(event.pid);
        options.onEvent?.(event);
      },
    });
    const { pages, byStatus } = await countRecords(queue, local);
    const failedJobs = await queue.failed({ limit: 100_000 });
    // A link deferred by one page may have been queued through another: it is not deferred.
    const known = new Set(failedJobs.map((job) => job.key));
    const deferredCounts = { 'max-depth': 0, 'max-pages': 0 };
    const deferred = state.deferred();
    for await (const [url, link] of deferred.entries()) {
      if (known.has(url) || (await queue.results.has(url))) await deferred.delete(url);
      else deferredCounts[link.reason]++;
    }
    const stats = await queue.stats();
    const startErrors: string[] = [];
    for (const url of startUrls) {
      const error = await startError(queue, failedJobs, url);
      if (error !== undefined) startErrors.push(error);
    }
    return {
      reason: run.reason,
      resumed,
      pages,
      byStatus,
      failed: stats.failed,
      failures: failedJobs.slice(0, FAILURES_LISTED).map((job) => ({
        url: job.key ?? job.payload.url,
        error: job.error ?? '',
        attempts: job.attempts,
      })),
      remaining: stats.pending + stats.leased,
      deferred: deferredCounts,
      requeued,
      startErrors,
      restarts: run.restarts,
      elapsedSeconds: run.elapsedSeconds,
    };
  } finally {
    if (previous === undefined) delete process.env[CRAWL_CONFIG_VARIABLE];
    else process.env[CRAWL_CONFIG_VARIABLE] = previous;
    await state?.close();
    await queue.close();
  }
}
