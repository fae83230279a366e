// `.async` get/set/delete of values in files (modes 2, 3 and 4): the files are read, written and
// deleted by async I/O; nothing is left behind by a call that fails.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache, Timeout } from '../../src/index.js';
import { exited, forkFixture, message, sent } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

/** The value files under a cache directory. */
function valueFiles(directory: string): string[] {
  return (fs.readdirSync(directory, { recursive: true }) as string[]).filter((f) =>
    f.endsWith('.val'),
  );
}

describe('.async with values in files', () => {
  it('set then get of bytes, text and a serialized object, each in a file', async () => {
    const directory = tempDir('async-files');
    const cache = new Cache(directory, { minFileSize: 1024 });
    const bytes = Buffer.alloc(50_000, 3);
    const text = 'é'.repeat(5_000);
    const object = { list: Array.from({ length: 500 }, (_, i) => i), when: new Date(0) };
    await Promise.all([
      cache.async.set('bytes', bytes),
      cache.async.set('text', text),
      cache.async.set('object', object, { expire: 60, tag: 't' }),
    ]);
    expect(valueFiles(directory)).toHaveLength(3);
    expect(await cache.async.get('bytes')).toEqual(bytes);
    expect(await cache.async.get('text')).toBe(text);
    expect(await cache.async.get('object')).toEqual(object);
    expect(cache.get('object')).toEqual(object); // the sync API reads the same entry
    expect(cache.getEntry('object')?.tag).toBe('t');
    // Overwrite: the old file goes once the new row has committed.
    await cache.async.set('bytes', Buffer.alloc(60_000, 4));
    expect(valueFiles(directory)).toHaveLength(3);
    expect(await cache.async.delete('bytes')).toBe(true);
    expect(await cache.async.delete('text')).toBe(true);
    expect(valueFiles(directory)).toHaveLength(1);
    expect(cache.check()).toEqual([]);
    cache.close();
  });

  it('a value file deleted behind the row reads as missing', async () => {
    const directory = tempDir('async-files');
    const cache = new Cache(directory, { minFileSize: 16 });
    await cache.async.set('k', 'x'.repeat(100));
    for (const file of valueFiles(directory)) fs.rmSync(path.join(directory, file));
    expect(await cache.async.get('k', { default: 'gone' })).toBe('gone');
    cache.close();
  });

  it('a set that cannot get the lock rejects with Timeout and leaves no value file', async () => {
    const directory = tempDir('async-files');
    const cache = new Cache(directory, { timeout: 0.2, minFileSize: 16 });
    const child = forkFixture('cache-hold-lock.ts', [directory, '50']);
    await message(child, (m) => m === 'locked');
    const results = await Promise.allSettled([
      cache.async.set('a', 'x'.repeat(100)),
      cache.async.set('b', 'y'.repeat(100)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(Timeout);
    expect(valueFiles(directory)).toEqual([]);
    await sent(child, 'release');
    await exited(child);
    expect(cache.size).toBe(0);
    cache.close();
  }, 30_000);

  it('argument errors reject before any file is written', async () => {
    const directory = tempDir('async-files');
    const cache = new Cache(directory, { minFileSize: 16 });
    await expect(
      cache.async.set('k', 'x'.repeat(100), { expire: 'soon' as never }),
    ).rejects.toThrow(TypeError);
    await expect(cache.async.set(Symbol('k'), 'x'.repeat(100))).rejects.toThrow(TypeError);
    expect(valueFiles(directory)).toEqual([]);
    cache.close();
  });
});
