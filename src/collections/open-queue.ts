/**
 * openQueue: a work queue by its locator, as an AsyncWorkQueue. A directory opens the SQLite
 * WorkQueue (for now through the simple adapter of work-queue-async.ts); a `redis://` or
 * `rediss://` URL with a `#name` opens a RedisWorkQueue, loading the Redis module (and ioredis)
 * only then, so the package root never loads a Redis client; likewise the SQLite engine is
 * loaded only for a directory (a runner's worker on Redis never needs it).
 */
import * as fs from 'node:fs';
import { checkBoolean } from '../cache/checks.js';
import { QueueNotFoundError } from '../cache/errors.js';
import type { AsyncWorkQueue } from './async-work-queue.js';
import type { WorkQueueOptions } from './work-queue.js';

/**
 * Options of `openQueue`: the queue's options (stored with the queue, so later openers inherit
 * them). `timeout` applies to a directory only (a Redis queue takes no lock).
 */
export interface OpenQueueOptions extends WorkQueueOptions {
  /**
   * Whether a queue that does not exist is created. With `false`, nothing is created (no
   * directory, no Redis key) and `openQueue` rejects with `QueueNotFoundError`: for tools that
   * only look at a queue. @default true
   */
  readonly create?: boolean;
}

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
 * @throws TypeError for a bad locator or option; QueueNotFoundError with `create: false` when
 * there is no queue; Error when ioredis is not installed.
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
  const [{ WorkQueue }, { SqliteAsyncWorkQueue }, { isWorkQueueDirectory }] = await Promise.all([
    import('./work-queue.js'),
    import('./work-queue-async.js'),
    import('./work-queue-schema.js'),
  ]);
  const { create, ...queueOptions } = options;
  if (create !== undefined && !checkBoolean('create', create) && !isWorkQueueDirectory(locator))
    throw new QueueNotFoundError(
      `no work queue in ${locator} (${fs.existsSync(locator) ? 'it holds none' : 'it does not exist'}; nothing was created)`,
    );
  return new SqliteAsyncWorkQueue<T>(new WorkQueue<T>(locator, queueOptions), { ownsQueue: true });
}
