/**
 * crawl-config: the settings every crawl worker needs, handed from the crawl's parent process to
 * its workers through one environment variable (the runner forks children with the parent's
 * environment), and the scope test they imply. It holds no state of its own.
 */
import * as path from 'node:path';

/**
 * What the crawl's summary counts a record under: why it was skipped, or its HTTP status. Each
 * record is stored with it as its tag (crawl-handler.ts exports it as `resultTag`, which the
 * runner calls), and the parent, which does not load the handler, counts by it (crawl.ts).
 */
export function recordStatus(record: {
  readonly status: number;
  readonly skipped?: string;
}): string {
  return record.skipped ?? String(record.status);
}

/** The directory of the deferred links inside a crawl directory. */
export function deferredDirectory(crawlDirectory: string): string {
  return path.join(crawlDirectory, 'deferred');
}

/** What a crawl worker needs to know. */
export interface CrawlConfig {
  /** The crawl's work queue: its directory (absolute), or a `redis://…#name` locator. */
  readonly queue: string;
  /** Only URLs with one of these origins are followed (null: any http(s) URL). */
  readonly origins: readonly string[] | null;
  /** A URL is followed only if it matches this regex (source, flags ''), when set. */
  readonly include: string | null;
  /** A URL matching this regex (source) is not followed. */
  readonly exclude: string | null;
  /** Links are followed this many hops from a start page at most; beyond: deferred. */
  readonly maxDepth: number;
  /** No more than this many pages are queued; beyond: deferred. */
  readonly maxPages: number;
  /** Seconds before a request is abandoned. */
  readonly timeoutSeconds: number;
  readonly userAgent: string;
  /** Requests per second per host across processes (null: no limit but Crawl-delay). */
  readonly rate: number | null;
  /** Requests one process runs at once to one host. */
  readonly hostConcurrency: number;
  /** Redirect hops followed from one URL at most. */
  readonly maxRedirects: number;
  /** A Retry-After longer than this (seconds) is not waited for: the job backs off normally. */
  readonly maxRetryAfterSeconds: number;
  /** Absolute path of the user's page handler module, if any. */
  readonly handler: string | null;
}

export const CRAWL_CONFIG_VARIABLE = 'NODE_DISKCACHE_CRAWL';

/** The config the parent put in the environment. */
export function readCrawlConfig(environment: NodeJS.ProcessEnv = process.env): CrawlConfig {
  const text = environment[CRAWL_CONFIG_VARIABLE];
  if (!text)
    throw new Error(
      `${CRAWL_CONFIG_VARIABLE} is not set: the crawl handler runs inside crawl()'s worker processes`,
    );
  return JSON.parse(text) as CrawlConfig;
}

/** Why a URL is outside the crawl's scope, or undefined when it is inside. */
export type OutOfScope = 'other-origin' | 'not-included' | 'excluded';

/** A compiled scope test. */
export function scopeOf(config: CrawlConfig): (url: string) => OutOfScope | undefined {
  const origins = config.origins === null ? null : new Set(config.origins);
  const include = config.include === null ? null : new RegExp(config.include);
  const exclude = config.exclude === null ? null : new RegExp(config.exclude);
  return (url) => {
    if (origins !== null && !origins.has(new URL(url).origin)) return 'other-origin';
    if (include !== null && !include.test(url)) return 'not-included';
    if (exclude?.test(url)) return 'excluded';
    return undefined;
  };
}
