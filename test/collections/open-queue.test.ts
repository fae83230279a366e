/**
 * openQueue on a directory: the shared AsyncWorkQueue suite against the SQLite WorkQueue (through
 * the simple adapter), and the locator checks. The Redis side is in test/redis/.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QueueNotFoundError } from '../../src/cache/errors.js';
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

  it('with create: false, refuses a directory holding no work queue and creates nothing', async () => {
    const parent = tempDir('async-wq');
    const missing = path.join(parent, 'missing');
    await expect(openQueue(missing, { create: false })).rejects.toThrow(
      new QueueNotFoundError(
        `no work queue in ${missing} (it does not exist; nothing was created)`,
      ),
    );
    expect(fs.existsSync(missing)).toBe(false);
    await expect(openQueue(parent, { create: false })).rejects.toThrow(/it holds none/);
    expect(fs.readdirSync(parent)).toEqual([]);
    await expect(openQueue(parent, { create: 1 as never })).rejects.toThrow(
      /create must be a boolean, got 1/,
    );
    await (await openQueue(parent)).close();
    const existing = await openQueue(parent, { create: false });
    expect(await existing.stats()).toMatchObject({ pending: 0, done: 0 });
    await existing.close();
  });

  it('refuses what is not a locator', async () => {
    await expect(openQueue('')).rejects.toThrow(TypeError);
    await expect(openQueue('redis://127.0.0.1:1/0')).rejects.toThrow(/after '#'/);
  });
});
