/**
 * crawl: a resumable, multi-process web crawler on the WorkQueue and the worker runner. The crawl
 * directory is a work queue whose jobs are URLs (keyed by URL, so each page is queued once) and
 * whose results store one record per page. Killing the crawl at any moment loses nothing: run it
 * again on the same directory and it carries on — leased pages come back when their leases
 * expire. This module orchestrates; fetching and parsing live in crawl-handler.ts.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkQueue } from '../collections/work-queue.js';
import type { RunProgress } from '../runner/progress.js';
import { type RunnerEvent, runWorkers } from '../runner/run-workers.js';
import { CRAWL_CONFIG_VARIABLE, type CrawlConfig } from './crawl-config.js';
import type { CrawlJob, PageRecord } from './crawl-handler.js';
import { normalizeUrl } from './links.js';

/** Options of `crawl`. */
export interface CrawlOptions {
  /** The first page. */
  readonly startUrl: string;
  /** The crawl directory (a work queue); run again on the same directory to resume. */
  readonly directory: string;
  /** Worker processes. @default 3 */
  readonly processes?: number;
  /** Pages each worker fetches at once. @default 8 */
  readonly concurrency?: number;
  /** Hops from the start page at most. @default 10 */
  readonly maxDepth?: number;
  /** Stop queueing pages once this many are known (approximate under concurrency). @default 10000 */
  readonly maxPages?: number;
  /** Follow only links to the start page's origin. @default true */
  readonly sameOrigin?: boolean;
  /** Seconds before a request is abandoned. @default 10 */
  readonly timeoutSeconds?: number;
  /** Seconds a worker holds a page before another may take it (renewed while fetching). @default 30 */
  readonly leaseSeconds?: number;
  /** Tries per page before it goes to the failed list. @default 3 */
  readonly maxAttempts?: number;
  /** Aborting stops the crawl gracefully; run it again to resume. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RunProgress) => void;
  readonly onEvent?: (event: RunnerEvent) => void;
}

/** How a crawl went. */
export interface CrawlSummary {
  /** 'drained': nothing left to fetch; 'stopped': the signal aborted (resume later). */
  readonly reason: 'drained' | 'stopped';
  /** Whether this run continued a crawl found in the directory. */
  readonly resumed: boolean;
  /** Pages recorded (fetched, dead links and robots-skipped included). */
  readonly pages: number;
  /** Pages by HTTP status ('robots' for pages robots.txt kept us out of). */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Pages that failed every attempt (network errors, 5xx). */
  readonly failed: number;
  /** Pages still queued (non-zero when stopped). */
  readonly remaining: number;
  readonly restarts: number;
  readonly elapsedSeconds: number;
}

const here = fileURLToPath(import.meta.url);
/** The handler module next to this file (.ts under tsx, .js from dist). */
const HANDLER = path.join(path.dirname(here), `crawl-handler${path.extname(here)}`);

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** Crawls from `startUrl` until nothing is left (or `signal` aborts); resumable. */
export async function crawl(options: CrawlOptions): Promise<CrawlSummary> {
  const startUrl = normalizeUrl(String(options.startUrl));
  if (startUrl === null)
    throw new TypeError(`startUrl must be an http(s) URL, got ${String(options.startUrl)}`);
  if (typeof options.directory !== 'string' || options.directory === '')
    throw new TypeError('directory must be a path');
  const config: CrawlConfig = {
    queueDirectory: path.resolve(options.directory),
    origin: options.sameOrigin === false ? null : new URL(startUrl).origin,
    maxDepth: positiveInteger('maxDepth', options.maxDepth, 10),
    maxPages: positiveInteger('maxPages', options.maxPages, 10_000),
    timeoutSeconds: options.timeoutSeconds ?? 10,
    userAgent: 'node-diskcache-crawler/0.1',
  };
  const queue = new WorkQueue<CrawlJob>(config.queueDirectory, {
    leaseSeconds: options.leaseSeconds ?? 30,
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts, 3),
    backoffSeconds: 0.5,
  });
  const before = queue.stats();
  const resumed = before.pending + before.leased + before.done + before.failed > 0;
  queue.put({ url: startUrl, depth: 0 }, { key: startUrl });

  const previous = process.env[CRAWL_CONFIG_VARIABLE];
  process.env[CRAWL_CONFIG_VARIABLE] = JSON.stringify(config);
  try {
    const run = await runWorkers({
      queue: queue as WorkQueue<unknown>,
      handler: HANDLER,
      processes: positiveInteger('processes', options.processes, 3),
      concurrency: positiveInteger('concurrency', options.concurrency, 8),
      once: true,
      graceSeconds: 10,
      progressIntervalSeconds: 0.25,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    const byStatus: Record<string, number> = {};
    let pages = 0;
    for (const record of queue.results.values() as Iterable<PageRecord>) {
      pages++;
      const status = record.skipped ?? String(record.status);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    }
    const stats = queue.stats();
    return {
      reason: run.reason,
      resumed,
      pages,
      byStatus,
      failed: stats.failed,
      remaining: stats.pending + stats.leased,
      restarts: run.restarts,
      elapsedSeconds: run.elapsedSeconds,
    };
  } finally {
    if (previous === undefined) delete process.env[CRAWL_CONFIG_VARIABLE];
    else process.env[CRAWL_CONFIG_VARIABLE] = previous;
    queue.close();
  }
}
