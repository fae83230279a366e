/**
 * crawl-state: what a crawl shares beside its work queue, on the queue's own backend: the links
 * deferred by the limits, the politeness state (a rate bucket and a Retry-After pause per host)
 * and the robots.txt bodies (read once per crawl rather than once per process). A crawl
 * directory keeps them in an Index (`DIR/deferred`) and a Cache (`DIR/politeness`); a Redis
 * crawl (`redis://…#name`) keeps them in Redis too (crawl-state-redis.ts), so that every machine
 * on the locator spends one budget. The crawl's parent and its workers reach both backends
 * through these interfaces alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cache } from '../cache/cache.js';
import { Index } from '../collections/index.js';
import { isRedisQueueLocator } from '../collections/open-queue.js';
import { throttle } from '../recipes/throttle.js';
import { deferredDirectory } from './crawl-config.js';
import type { DeferredLink } from './crawl-handler.js';

/** Runs `request` when the rate allows it. */
export type Limiter = <R>(request: () => Promise<R>) => Promise<R>;

/** The per-host politeness state that every process of a crawl shares. */
export interface PolitenessStore {
  /** Seconds `host` stays paused (0 or less: not paused). */
  pausedFor(host: string): Promise<number>;
  /** Pauses `host` for `seconds` from now for every process, unless it is paused longer already. */
  pause(host: string, seconds: number): Promise<void>;
  /** One request to `host` per `period` seconds, across every process of the crawl. */
  limiter(host: string, period: number): Limiter;
}

/** The links deferred by `maxDepth`/`maxPages`, by URL, oldest first. */
export interface DeferredStore {
  /** Keeps the links whose URL is not kept already. */
  addMany(links: readonly DeferredLink[]): Promise<void>;
  entries(): AsyncIterable<[string, DeferredLink]>;
  delete(url: string): Promise<void>;
}

/** How long a robots.txt is reused (RFC 9309 allows caching up to 24 hours). */
export const ROBOTS_SECONDS = 24 * 3600;

/** robots.txt bodies by origin, shared by the crawl's processes ('' allows everything). */
export interface RobotsStore {
  /** The body stored for `origin` less than ROBOTS_SECONDS ago, if any. */
  get(origin: string): Promise<string | undefined>;
  set(origin: string, text: string): Promise<void>;
}

/** A crawl's shared state in one process. */
export interface CrawlState {
  readonly politeness: PolitenessStore;
  readonly robots: RobotsStore;
  /** The deferred links (opened at the first call: most crawls never defer one). */
  deferred(): DeferredStore;
  close(): Promise<void>;
}

/** The parts a backend gives `assembleState`. */
export interface StateParts {
  readonly politeness: PolitenessStore;
  readonly robots: RobotsStore;
  /** Opens the deferred links' store (at the first `deferred()`). */
  readonly openDeferred: () => DeferredStore & { close(): unknown };
  /** Closes the rest (after the deferred links' store). */
  readonly close: () => Promise<void>;
}

/** A CrawlState from a backend's parts. */
export function assembleState(parts: StateParts): CrawlState {
  let deferred: (DeferredStore & { close(): unknown }) | undefined;
  return {
    politeness: parts.politeness,
    robots: parts.robots,
    deferred() {
      deferred ??= parts.openDeferred();
      return deferred;
    },
    async close() {
      await deferred?.close();
      await parts.close();
    },
  };
}

/** The state of the crawl whose queue is `locator` (a directory or `redis://…#name`). */
export async function openCrawlState(locator: string): Promise<CrawlState> {
  if (!isRedisQueueLocator(locator)) return directoryState(locator);
  const { openRedisCrawlState } = await import('./crawl-state-redis.js');
  return openRedisCrawlState(locator);
}

/**
 * The state in a crawl directory: an Index and a Cache beside the queue, each opened at its first
 * use (the crawl's parent reads the deferred links only, and never opens the Cache).
 */
function directoryState(directory: string): CrawlState {
  let opened: Cache | undefined;
  const politenessCache = () =>
    (opened ??= new Cache(path.join(directory, 'politeness'), { evictionPolicy: 'none' }));
  const politeness: PolitenessStore = {
    async pausedFor(host) {
      const until = politenessCache().get(`pause:${host}`);
      return typeof until === 'number' ? until - Date.now() / 1000 : 0;
    },
    async pause(host, seconds) {
      const until = Date.now() / 1000 + seconds;
      const key = `pause:${host}`;
      const cache = politenessCache();
      cache.transact(
        () => {
          const current = cache.get(key, { retry: true });
          if (typeof current !== 'number' || current < until)
            cache.set(key, until, { expire: seconds + 60, retry: true });
        },
        { retry: true },
      );
    },
    limiter(host, period) {
      // One token per period and a bucket of one: no burst above the rate.
      const limited = throttle(politenessCache(), {
        count: 1,
        seconds: period,
        name: `rate:${host}`,
        expire: 3600,
      })((request: () => Promise<unknown>) => request());
      return limited as Limiter;
    },
  };
  const robots: RobotsStore = {
    async get(origin) {
      const text = politenessCache().get(`robots:${origin}`);
      return typeof text === 'string' ? text : undefined;
    },
    async set(origin, text) {
      politenessCache().set(`robots:${origin}`, text, { expire: ROBOTS_SECONDS, retry: true });
    },
  };
  return assembleState({
    politeness,
    robots,
    openDeferred() {
      // Opened by the first link deferred; read only where one ever was (most crawls defer none,
      // and the parent, which reads them twice, then opens no connection for them).
      const linksDirectory = deferredDirectory(directory);
      let opened: Index<string, DeferredLink> | undefined;
      const links = () => (opened ??= new Index<string, DeferredLink>(linksDirectory));
      const any = () => opened !== undefined || fs.existsSync(linksDirectory);
      return {
        async addMany(later) {
          const index = links();
          index.transact(() => {
            for (const link of later) if (!index.has(link.url)) index.set(link.url, link);
          });
        },
        async *entries() {
          if (any()) yield* links().entries();
        },
        async delete(url) {
          if (any()) links().delete(url);
        },
        close: () => opened?.close(),
      };
    },
    async close() {
      opened?.close();
    },
  });
}
