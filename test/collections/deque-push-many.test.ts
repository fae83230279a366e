// Cache.pushMany, the engine primitive behind Deque.extend: the keys it picks (the same keys
// repeated push calls pick), prefixes, both ends, expiry and tags, and all-or-nothing failure.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

const open: Cache[] = [];
afterEach(() => {
  for (const cache of open.splice(0)) cache.close();
});

function cache(): Cache {
  const created = new Cache(tempDir('push-many'), { evictionPolicy: 'none' });
  open.push(created);
  return created;
}

/** Every value file under a cache directory. */
function valueFiles(directory: string): string[] {
  return (fs.readdirSync(directory, { recursive: true }) as string[])
    .filter((name) => name.endsWith('.val'))
    .map((name) => path.join(directory, name));
}

describe('Cache.pushMany', () => {
  it('picks the keys that repeated push calls pick, at both ends, with and without a prefix', () => {
    const batch = cache();
    const single = cache();
    const plan: [unknown[], { side?: 'back' | 'front'; prefix?: string }][] = [
      [['a', 'b', 'c'], {}],
      [['d', 'e'], { side: 'front' }],
      [['f'], {}],
      [['p', 'q'], { prefix: 'jobs' }],
      [['r', 's', 't'], { prefix: 'jobs', side: 'front' }],
    ];
    for (const [values, options] of plan) {
      const keys = batch.pushMany(values, options);
      expect(keys).toEqual(values.map((value) => single.push(value, options)));
    }
    expect([...batch.entries()]).toEqual([...single.entries()]);
    expect(batch.pull()?.value).toBe('e'); // pushed to the front one after the other: the last first
    expect(batch.pull({ prefix: 'jobs' })).toMatchObject({
      key: 'jobs-499999999999997',
      value: 't',
    });
    expect(batch.pull({ side: 'back' })).toMatchObject({ key: 500000000000003, value: 'f' });
  });

  it('continues after the current end, across batches larger than one INSERT statement', () => {
    const c = cache();
    c.push('first');
    const values = Array.from({ length: 1234 }, (_, i) => i);
    const keys = c.pushMany(values);
    expect(keys[0]).toBe(500000000000001);
    expect(keys.at(-1)).toBe(500000000001234);
    expect(c.size).toBe(1235);
    expect([...c.entries()].slice(1).map(([, value]) => value)).toEqual(values);
  });

  it('applies expire and tag to every value, and stores large values in files', () => {
    const c = cache();
    const big = Buffer.alloc(40_000, 7);
    const keys = c.pushMany(['x', big], { expire: 60, tag: 'batch' });
    for (const key of keys) {
      const entry = c.getEntry(key);
      expect(entry?.tag).toBe('batch');
      expect(entry?.expireTime).toBeGreaterThan(Date.now() / 1000 + 50);
    }
    expect(c.get(keys[1])).toEqual(big);
    expect(valueFiles(c.directory)).toHaveLength(1);
    expect(c.evict('batch')).toBe(2);
  });

  it('returns [] for an empty batch and leaves the cache unchanged', () => {
    const c = cache();
    expect(c.pushMany([])).toEqual([]);
    expect(c.size).toBe(0);
  });

  it('is all or nothing: a value that cannot be stored pushes nothing and leaves no file', () => {
    const c = cache();
    const big = 'v'.repeat(40_000);
    expect(() => c.pushMany([big, Symbol('no')])).toThrow(TypeError);
    expect(() => c.pushMany([big, undefined])).toThrow(TypeError);
    expect(c.size).toBe(0);
    expect(valueFiles(c.directory)).toEqual([]);
  });

  it('removes its value files when the enclosing transaction rolls back', () => {
    const c = cache();
    expect(() =>
      c.transact(() => {
        c.pushMany(['w'.repeat(40_000), 'w'.repeat(50_000)]);
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    expect(c.size).toBe(0);
    expect(valueFiles(c.directory)).toEqual([]);
  });

  it('rejects a bad side or prefix like push does', () => {
    const c = cache();
    expect(() => c.pushMany([1], { side: 'middle' as never })).toThrow(
      /side must be 'back' or 'front', got middle/,
    );
    expect(() => c.pushMany([1], { prefix: 5 as never })).toThrow(/prefix must be a string/);
  });
});
