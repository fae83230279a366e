/**
 * openQueue: a work queue by its locator, as an AsyncWorkQueue. A directory opens the SQLite
 * WorkQueue (for now through the simple adapter of work-queue-async.ts); a `redis://` or
 * `rediss://` URL with a `#name` opens a RedisWorkQueue, loading the Redis module (and ioredis)
 * only then, so the package root never loads a Redis client; likewise the SQLite engine is
 * loaded only for a directory (a runner's worker on Redis never needs it).
 */
import type { AsyncWorkQueue } from './async-work-queue.js';
import type { WorkQueueOptions } from './work-queue.js';

/**
 * Options of `openQueue`: the queue's options (stored with the queue, so later openers inherit
 * them). `timeout` applies to a directory only (a Redis queue takes no lock).
 */
export type OpenQueueOptions = WorkQueueOptions;

const REDIS_URL = /^rediss?:\/\//i;

/** Whether `locator` names a Redis queue rather than a directory. */
export function isRedisQueueLocator(locator: string): boolean {
  return REDIS_URL.test(locator);
}

/**
 * Opens the work queue named by `locator`: a directory (created if needed), or
 * `redis://[user:password@]host[:port][/db]#name` (`rediss://` for TLS). For Redis it resolves once
 * the connection is up and the queue's settings are read.
 * @example
 * const queue = await openQueue<{ url: string }>('redis://127.0.0.1:6379/0#crawl');
 * await queue.put({ url }, { key: url });
 * @throws TypeError for a bad locator or option; Error when ioredis is not installed.
 */
export async function openQueue<T = unknown>(
  locator: string,
  options: OpenQueueOptions = {},
): Promise<AsyncWorkQueue<T>> {
  if (typeof locator !== 'string' || locator === '')
    throw new TypeError(
      `a queue locator must be a directory or a redis:// URL, got ${String(locator)}`,
    );
  if (isRedisQueueLocator(locator)) {
    const { RedisWorkQueue } = await import('../redis/redis-work-queue.js');
    // The lock timeout and the lease supervisor (a pid on this machine) are SQLite's alone.
    const { timeout: _timeout, leaseSupervisor: _supervisor, ...queueOptions } = options;
    const queue = new RedisWorkQueue<T>(locator, queueOptions);
    try {
      await queue.settings();
    } catch (error) {
      await queue.close();
      throw error;
    }
    return queue;
  }
  // Loaded here too: a runner's worker on a Redis queue starts without the SQLite engine.
  const [{ WorkQueue }, { SqliteAsyncWorkQueue }] = await Promise.all([
    import('./work-queue.js'),
    import('./work-queue-async.js'),
  ]);
  return new SqliteAsyncWorkQueue<T>(new WorkQueue<T>(locator, options), { ownsQueue: true });
}
