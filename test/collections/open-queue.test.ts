/**
 * openQueue on a directory: the shared AsyncWorkQueue suite against the SQLite WorkQueue (through
 * the simple adapter), and the locator checks. The Redis side is in test/redis/.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { QueueNotFoundError } from '../../src/cache/errors.js';
import { openQueue } from '../../src/collections/open-queue.js';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { tempDir } from '../helpers/tmp.js';
import { describeAsyncQueue } from './async-queue-suite.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

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

  it('loads no Redis client until a redis:// queue connects', () => {
    // In a fresh process (this one may have loaded ioredis for another test file): the package's
    // entry points, as built by the suite's global setup, then ioredis itself. ioredis is
    // CommonJS: once loaded, it is in require.cache.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))});
      const loaded = () => Object.keys(require.cache).some((file) => file.includes('/ioredis/'));
      await import(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
      await import(${JSON.stringify(path.join(ROOT, 'dist/redis/index.js'))});
      const before = loaded();
      await import('ioredis');
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ before: false, after: true });
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
