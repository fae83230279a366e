/**
 * openQueue on a directory: the shared AsyncWorkQueue suite against the SQLite WorkQueue (through
 * the simple adapter), and the locator checks. The Redis side is in test/redis/.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openQueue } from '../../src/collections/open-queue.js';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { tempDir } from '../helpers/tmp.js';
import { describeAsyncQueue } from './async-queue-suite.js';

describeAsyncQueue('sqlite', () => {
  const directory = tempDir('async-wq');
  return { open: (options) => openQueue(directory, options) };
});

describe('openQueue', () => {
  it('opens a directory as the SQLite WorkQueue, shared with the synchronous API', async () => {
    const directory = tempDir('async-wq');
    const queue = await openQueue<string>(directory, { maxAttempts: 4 });
    expect(queue.locator).toBe(directory);
    await queue.put('from async');
    const sync = new WorkQueue<string>(directory);
    expect(sync.settings.maxAttempts).toBe(4);
    expect(sync.take()!.payload).toBe('from async');
    sync.close();
    await queue.close();
  });

  it('loads no Redis client until a redis:// queue connects', async () => {
    // ioredis is CommonJS: once loaded, it is in require.cache.
    const require = createRequire(import.meta.url);
    const loaded = () =>
      Object.keys(require.cache).some((file) => file.includes(`${path.sep}ioredis${path.sep}`));
    await import('../../src/index.js');
    await import('../../src/redis/index.js');
    expect(loaded()).toBe(false);
    await import('ioredis');
    expect(loaded()).toBe(true);
  });

  it('refuses what is not a locator', async () => {
    await expect(openQueue('')).rejects.toThrow(TypeError);
    await expect(openQueue('redis://127.0.0.1:1/0')).rejects.toThrow(/after '#'/);
  });
});
