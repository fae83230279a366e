/**
 * What the dashboard shows, read from the places the user named: a work queue (a directory or a
 * Redis locator, through `openQueue`), a crawl (a work queue whose results are page records), or a
 * Cache directory. Each source is read only through the library's public objects, never raw SQLite
 * or Redis commands, and never deserializes a Cache's values (only counts and sizes). Locators are
 * shown with any Redis credentials removed, and error texts have the password scrubbed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../cache/cache.js';
import { DBNAME } from '../cache/schema.js';
import type { AsyncWorkQueue, WorkQueueStats } from '../collections/async-work-queue.js';
import { isRedisQueueLocator, openQueue } from '../collections/open-queue.js';
import { isWorkQueueDirectory } from '../collections/work-queue-schema.js';

/** A locator the dashboard cannot open: missing, neither a queue nor a cache, or unreachable. */
export class DashboardSourceError extends Error {
  override name = 'DashboardSourceError';
}

/**
 * How a locator is displayed: a directory as its absolute path, a Redis locator as
 * `redis://host:port/db#name` with the user name and password removed.
 */
export function displayLocator(locator: string): string {
  if (!isRedisQueueLocator(locator)) return path.resolve(locator);
  let url: URL;
  try {
    url = new URL(locator);
  } catch {
    return 'redis://(unparsable locator)';
  }
  const db = url.pathname.replace(/^\//, '') || '0';
  return `${url.protocol}//${url.hostname}:${url.port || '6379'}/${db}${url.hash}`;
}

/**
 * The secret of a locator (its password, as written and decoded), to scrub from error texts. A
 * user name is not treated as a secret (scrubbing a short one would mangle every message).
 */
export function secretsOf(locator: string): string[] {
  if (!isRedisQueueLocator(locator)) return [];
  try {
    const { password } = new URL(locator);
    return [...new Set([password, decodeURIComponent(password)])]
      .filter((secret) => secret.length >= 3)
      .sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

/** `text` with every secret replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

/** A page record's summary as the dashboard shows it. */
export interface RecentPage {
  readonly url: string;
  readonly status: number;
  readonly title: string;
  readonly fetchedAt: number;
  readonly note: string;
}

/** A crawl's progress: pages by status, the busiest hosts, the latest pages. */
export interface CrawlView {
  readonly pages: number;
  /** Counts by HTTP status, or `skipped: reason` / `error` for pages without one. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** The hosts with the most pages, most first (at most 10). */
  readonly hosts: readonly { host: string; pages: number }[];
  /** The most recently fetched pages, latest first (at most 10). */
  readonly recent: readonly RecentPage[];
}

const TOP = 10;

/** Whether a stored result looks like the crawler's page record. */
function isPageRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.url === 'string' &&
    typeof record.status === 'number' &&
    typeof record.fetchedAt === 'number' &&
    typeof record.depth === 'number'
  );
}

function statusLabel(record: Record<string, unknown>): string {
  const status = Number(record.status);
  if (status > 0) return String(status);
  if (typeof record.skipped === 'string') return `skipped: ${record.skipped}`;
  return 'error';
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/** Tallies page records one at a time (keeps only the top hosts and the latest pages). */
export class PageTally {
  readonly #byStatus: Record<string, number> = {};
  readonly #hosts = new Map<string, number>();
  readonly #recent: RecentPage[] = [];
  #pages = 0;

  /** Counts `value` if it is a page record; anything else is ignored. */
  add(value: unknown): void {
    if (!isPageRecord(value)) return;
    this.#pages++;
    const label = statusLabel(value);
    this.#byStatus[label] = (this.#byStatus[label] ?? 0) + 1;
    const url = value.url as string;
    const host = hostOf(url);
    this.#hosts.set(host, (this.#hosts.get(host) ?? 0) + 1);
    const fetchedAt = value.fetchedAt as number;
    const recent = this.#recent;
    if (recent.length === TOP && fetchedAt <= recent[recent.length - 1]!.fetchedAt) return;
    const page: RecentPage = {
      url,
      status: Number(value.status),
      title: typeof value.title === 'string' ? value.title.slice(0, 200) : '',
      fetchedAt,
      note: typeof value.error === 'string' ? value.error : String(value.skipped ?? ''),
    };
    const at = recent.findIndex((other) => other.fetchedAt < fetchedAt);
    recent.splice(at < 0 ? recent.length : at, 0, page);
    if (recent.length > TOP) recent.pop();
  }

  view(): CrawlView {
    const hosts = [...this.#hosts]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, TOP)
      .map(([host, pages]) => ({ host, pages }));
    return {
      pages: this.#pages,
      byStatus: { ...this.#byStatus },
      hosts,
      recent: [...this.#recent],
    };
  }
}

/** Seconds between two crawl summaries of one queue (a summary reads every record). */
const CRAWL_REFRESH_SECONDS = 3;

/** One work queue (maybe a crawl) the dashboard watches. */
export class QueueSource {
  readonly locator: string;
  readonly queue: AsyncWorkQueue;
  readonly #secrets: string[];
  /** `undefined` until a first result says whether the results are page records. */
  #crawl: boolean | undefined;
  #crawlView: CrawlView | undefined;
  #crawlAt = 0;
  #crawlDone = -1;
  #crawlBusy = false;

  private constructor(given: string, queue: AsyncWorkQueue) {
    this.locator = displayLocator(given);
    this.queue = queue;
    this.#secrets = secretsOf(given);
  }

  /** Opens a queue that exists (the dashboard only looks: it creates nothing). */
  static async open(given: string): Promise<QueueSource> {
    return new QueueSource(given, await openQueue(given, { create: false }));
  }

  /** 'crawl' once its results are known to be page records, else 'queue'. */
  get kind(): 'queue' | 'crawl' {
    return this.#crawl ? 'crawl' : 'queue';
  }

  /** The latest crawl summary (refreshed by `refreshCrawl`). */
  get crawl(): CrawlView | undefined {
    return this.#crawlView;
  }

  /** An error's text, with the locator's secrets removed. */
  describe(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    return scrub(text, this.#secrets);
  }

  stats(): Promise<WorkQueueStats> {
    return this.queue.stats();
  }

  /**
   * Recomputes the crawl summary when the queue is (or may be) a crawl, its done count moved and
   * the last summary is older than a few seconds. Never runs twice at once.
   */
  async refreshCrawl(done: number, nowSeconds: number): Promise<void> {
    if (this.#crawl === false || this.#crawlBusy) return;
    if (done === this.#crawlDone && this.#crawlView !== undefined) return;
    if (nowSeconds - this.#crawlAt < CRAWL_REFRESH_SECONDS && this.#crawlView !== undefined) return;
    this.#crawlBusy = true;
    try {
      if (this.#crawl === undefined) {
        const first = await this.queue.results.entries().next();
        if (first.done) return;
        this.#crawl = isPageRecord(first.value[1]);
        if (!this.#crawl) return;
      }
      const tally = new PageTally();
      for await (const [, value] of this.queue.results.entries()) tally.add(value);
      this.#crawlView = tally.view();
      this.#crawlDone = done;
      this.#crawlAt = nowSeconds;
    } finally {
      this.#crawlBusy = false;
    }
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** A Cache directory's figures. */
export interface CacheView {
  readonly locator: string;
  /** Entries, expired ones not yet culled included. */
  readonly size: number;
  /** Bytes on disk. */
  readonly volume: number;
  readonly hits: number;
  readonly misses: number;
  /** Whether the cache counts hits and misses (its `statistics` setting). */
  readonly statistics: boolean;
}

/** A Cache directory the dashboard watches (sizes and counters only; values are never read). */
export class CacheSource {
  readonly locator: string;
  readonly cache: Cache;

  constructor(directory: string) {
    this.locator = path.resolve(directory);
    this.cache = new Cache(directory);
  }

  view(): CacheView {
    const { hits, misses } = this.cache.stats();
    return {
      locator: this.locator,
      size: this.cache.size,
      volume: this.cache.volume(),
      hits,
      misses,
      statistics: Boolean(Number(this.cache.reset('statistics'))),
    };
  }

  close(): void {
    this.cache.close();
  }
}

/** Opens what `locator` names: a Redis queue, a queue directory, or a Cache directory. */
export async function openSource(locator: string): Promise<QueueSource | CacheSource> {
  if (typeof locator !== 'string' || locator === '')
    throw new DashboardSourceError(`a locator must be a directory or a redis:// URL, got ''`);
  if (isRedisQueueLocator(locator)) {
    try {
      return await QueueSource.open(locator);
    } catch (error) {
      const text = scrub(
        error instanceof Error ? error.message : String(error),
        secretsOf(locator),
      );
      // A malformed locator is the caller's mistake (a TypeError), an unreachable server is not.
      if (error instanceof TypeError) throw new TypeError(text);
      throw new DashboardSourceError(`cannot open ${displayLocator(locator)}: ${text}`);
    }
  }
  const directory = path.resolve(locator);
  if (!fs.existsSync(directory)) throw new DashboardSourceError(`${directory} does not exist`);
  if (!fs.statSync(directory).isDirectory())
    throw new DashboardSourceError(`${directory} is not a directory`);
  if (isWorkQueueDirectory(directory)) return QueueSource.open(directory);
  if (fs.existsSync(path.join(directory, DBNAME))) return new CacheSource(directory);
  throw new DashboardSourceError(
    `${directory} is neither a work queue nor a cache directory (it has no ${DBNAME})`,
  );
}
