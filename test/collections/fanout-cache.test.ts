// FanoutCache in one process: routing to shards, per-shard settings, sums over shards, the
// timeout policy (a shard's write lock held from a second connection), sub-caches, bad input.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache, FanoutCache, KeyError, Timeout } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

const open: { close(): void }[] = [];
afterEach(() => {
  for (const item of open.splice(0)) item.close();
});

function fanout(
  options?: ConstructorParameters<typeof FanoutCache>[1],
  dir = tempDir('fanout'),
): FanoutCache {
  const cache = new FanoutCache(dir, options);
  open.push(cache);
  return cache;
}

/** A string key that lands in shard `shard`. */
function keyInShard(cache: FanoutCache, shard: number, prefix = 'k'): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}${i}`;
    if (cache.disk.hash(key) % cache.shardCount === shard) return key;
  }
}

/** The Settings rows of one shard, with their SQLite types, read through a separate connection. */
function shardSetting(dir: string, shard: string, name: string): [unknown, string] {
  const db = new Database(path.join(dir, shard, 'cache.db'), { readonly: true });
  try {
    return db
      .prepare('SELECT value, typeof(value) FROM Settings WHERE key = ?')
      .raw()
      .get(name) as [unknown, string];
  } finally {
    db.close();
  }
}

/** Holds the write lock of one shard from a second connection until the returned function is called. */
function lockShard(dir: string, shard: number): () => void {
  const db = new Database(path.join(dir, String(shard).padStart(3, '0'), 'cache.db'));
  db.prepare('BEGIN IMMEDIATE').run();
  return () => {
    db.prepare('ROLLBACK').run();
    db.close();
  };
}

describe('FanoutCache layout and routing', () => {
  it('creates shards 000..007 by default and keeps each key in shard hash % shards', () => {
    const dir = tempDir('fanout');
    const cache = fanout(undefined, dir);
    expect(fs.readdirSync(dir).sort()).toEqual([
      '000',
      '001',
      '002',
      '003',
      '004',
      '005',
      '006',
      '007',
    ]);
    expect(cache.shardCount).toBe(8);
    const keys: unknown[] = ['alpha', 'beta', 7, -3, 2 ** 40, 1.5, Buffer.from('bytes'), ['a', 1]];
    for (const key of keys) expect(cache.set(key, String(key))).toBe(true);
    cache.close();
    for (const key of keys) {
      const expected = cache.disk.hash(key) % 8;
      for (let shard = 0; shard < 8; shard++) {
        using plain = new Cache(path.join(dir, `00${shard}`));
        expect(plain.has(key), `key ${String(key)} in shard ${shard}`).toBe(shard === expected);
      }
    }
  });

  it('puts a large value file under the directory of its shard', () => {
    const dir = tempDir('fanout');
    const cache = fanout({ shards: 4 }, dir);
    const key = keyInShard(cache, 2);
    cache.set(key, Buffer.alloc(40_000, 7));
    const filesIn = (shard: string) =>
      (fs.readdirSync(path.join(dir, shard), { recursive: true }) as string[]).filter((name) =>
        name.endsWith('.val'),
      );
    expect(filesIn('002')).toHaveLength(1);
    for (const shard of ['000', '001', '003']) expect(filesIn(shard)).toHaveLength(0);
    expect(cache.get(key)).toEqual(Buffer.alloc(40_000, 7));
  });

  it('names shards with three digits and more when needed', () => {
    const dir = tempDir('fanout');
    fanout({ shards: 3 }, dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['000', '001', '002']);
  });

  it('opens a new temporary directory when none is given', () => {
    const cache = fanout();
    expect(fs.existsSync(path.join(cache.directory, '000', 'cache.db'))).toBe(true);
    fs.rmSync(cache.directory, { recursive: true, force: true });
  });
});

describe('FanoutCache settings', () => {
  it('gives each shard sizeLimit / shards, stored as a REAL like Python', () => {
    const dir = tempDir('fanout');
    const cache = fanout(undefined, dir);
    expect(cache.settings.size_limit).toBe(2 ** 30 / 8);
    for (const shard of ['000', '007'])
      expect(shardSetting(dir, shard, 'size_limit')).toEqual([134217728, 'real']);
    expect(shardSetting(dir, '000', 'cull_limit')).toEqual([10, 'integer']);
    expect(cache.timeout).toBe(0.01);
  });

  it('divides a given sizeLimit and keeps a fraction', () => {
    const dir = tempDir('fanout');
    fanout({ shards: 3, sizeLimit: 1000 }, dir).close();
    expect(shardSetting(dir, '001', 'size_limit')).toEqual([1000 / 3, 'real']);
  });

  it('keeps the per-shard REAL when a plain Cache reopens a shard without sizeLimit', () => {
    const dir = tempDir('fanout');
    fanout({ shards: 2 }, dir).close();
    new Cache(path.join(dir, '000')).close();
    expect(shardSetting(dir, '000', 'size_limit')).toEqual([2 ** 29, 'real']);
  });

  it('applies the other options to every shard', () => {
    const dir = tempDir('fanout');
    fanout(
      { shards: 2, cullLimit: 3, evictionPolicy: 'least-recently-used', timeout: 2 },
      dir,
    ).close();
    for (const shard of ['000', '001']) {
      expect(shardSetting(dir, shard, 'cull_limit')).toEqual([3, 'integer']);
      expect(shardSetting(dir, shard, 'eviction_policy')).toEqual(['least-recently-used', 'text']);
    }
  });

  it('reset applies a setting to every shard and reads it back', () => {
    const dir = tempDir('fanout');
    const cache = fanout({ shards: 3 }, dir);
    expect(cache.reset('cull_limit', 4)).toBe(4);
    for (const shard of ['000', '001', '002'])
      expect(shardSetting(dir, shard, 'cull_limit')).toEqual([4, 'integer']);
    expect(cache.reset('cullLimit')).toBe(4);
    expect(() => cache.reset('no_such_setting')).toThrow(KeyError);
  });

  it('rejects bad options, naming the option and the value', () => {
    const dir = tempDir('fanout');
    expect(() => new FanoutCache(dir, { shards: 0 })).toThrow(
      /shards must be a positive integer, got 0/,
    );
    expect(() => new FanoutCache(dir, { shards: 2.5 })).toThrow(RangeError);
    expect(() => new FanoutCache(dir, { shards: '4' as unknown as number })).toThrow(
      /shards must be a number, got 4/,
    );
    expect(() => new FanoutCache(dir, { sizeLimit: -1 })).toThrow(
      /sizeLimit must be at least 0, got -1/,
    );
    expect(() => new FanoutCache(dir, { sizeLimit: 'big' as unknown as number })).toThrow(
      TypeError,
    );
    expect(() => new FanoutCache(dir, { cullLimit: 1.5 })).toThrow(/cullLimit/);
    expect(() => new FanoutCache(dir, { bogus: 1 } as never)).toThrow(/unknown option "bogus"/);
    expect(() => new FanoutCache(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('FanoutCache operations', () => {
  it('set, get, getEntry, has, add, touch, delete, pop, popEntry', () => {
    const cache = fanout({ shards: 4 });
    expect(cache.set('a', 1, { tag: 'x' })).toBe(true);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('missing', { default: 'd' })).toBe('d');
    expect(cache.getEntry('a')).toEqual({ key: 'a', value: 1, expireTime: null, tag: 'x' });
    expect(cache.has('a')).toBe(true);
    expect(cache.add('a', 2)).toBe(false);
    expect(cache.add('b', 2)).toBe(true);
    expect(cache.touch('b', { expire: 100 })).toBe(true);
    expect(cache.getEntry('b')?.expireTime).toBeGreaterThan(Date.now() / 1000);
    expect(cache.touch('nope')).toBe(false);
    expect(cache.delete('b')).toBe(true);
    expect(cache.delete('b')).toBe(false);
    expect(cache.pop('a')).toBe(1);
    expect(cache.pop('a', { default: 0 })).toBe(0);
    cache.set('c', 'v');
    expect(cache.popEntry('c')).toEqual({ key: 'c', value: 'v', expireTime: null, tag: null });
    expect(cache.popEntry('c')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('incr and decr, KeyError with default null', () => {
    const cache = fanout({ shards: 4 });
    expect(cache.incr('n')).toBe(1);
    expect(cache.incr('n', 5)).toBe(6);
    expect(cache.decr('n', 10)).toBe(-4);
    expect(cache.incr('big', 2n ** 60n)).toBe(2n ** 60n);
    expect(() => cache.incr('absent', 1, { default: null })).toThrow(KeyError);
    cache.set('text', 'abc');
    expect(() => cache.incr('text')).toThrow(TypeError);
  });

  it('read and setStream go to the shard of the key', async () => {
    const cache = fanout({ shards: 4 });
    expect(
      await cache.setStream('stream', Readable.from([Buffer.from('hello '), Buffer.from('world')])),
    ).toBe(true);
    const chunks: Buffer[] = [];
    for await (const chunk of cache.read('stream')) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello world');
    expect(cache.get('stream')).toEqual(Buffer.from('hello world'));
    expect(() => cache.read('absent')).toThrow(KeyError);
  });

  it('expires entries and never returns an expired value', () => {
    const cache = fanout({ shards: 4 });
    cache.set('old', 1, { expire: -1 });
    expect(cache.get('old')).toBeUndefined();
    expect(cache.has('old')).toBe(false);
  });

  it('rejects invalid keys and values instead of swallowing the error', () => {
    const cache = fanout({ shards: 2 });
    expect(() => cache.set(Number.NaN, 1)).toThrow(TypeError);
    expect(() => cache.get(undefined)).toThrow(TypeError);
    expect(() => cache.set('k', undefined)).toThrow(TypeError);
  });
});

describe('FanoutCache over every shard', () => {
  function filled(shards = 4, count = 40): FanoutCache {
    const cache = fanout({ shards, cullLimit: 0 }); // keep the expired entries until expire()
    for (let i = 0; i < count; i++)
      cache.set(`key${i}`, i, {
        tag: i % 2 === 0 ? 'even' : 'odd',
        expire: i < 10 ? -1 : undefined,
      });
    return cache;
  }

  it('size, volume and stats sum the shards', () => {
    const dir = tempDir('fanout');
    const cache = fanout({ shards: 4, statistics: true }, dir);
    for (let i = 0; i < 20; i++) cache.set(i, i);
    for (let i = 0; i < 30; i++) cache.get(i);
    expect(cache.size).toBe(20);
    expect(cache.stats()).toEqual({ hits: 20, misses: 10 });
    expect(cache.stats({ reset: true, enable: false })).toEqual({ hits: 20, misses: 10 });
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 });
    cache.get(0);
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 });
    let volume = 0;
    let size = 0;
    cache.close();
    for (const shard of ['000', '001', '002', '003']) {
      using plain = new Cache(path.join(dir, shard));
      volume += plain.volume();
      size += plain.size;
    }
    const reopened = fanout({ shards: 4 }, dir);
    expect(reopened.volume()).toBe(volume);
    expect(size).toBe(20);
  });

  it('expire sums the expired entries of every shard', () => {
    const cache = filled();
    expect(cache.size).toBe(40);
    expect(cache.expire()).toBe(10);
    expect(cache.size).toBe(30);
    expect(cache.expire(Date.now() / 1000 + 10)).toBe(0);
  });

  it('evict sums the tagged entries of every shard', () => {
    const cache = filled();
    expect(cache.evict('even')).toBe(20);
    expect(cache.size).toBe(20);
    expect([...cache.keys()].every((key) => Number(String(key).slice(3)) % 2 === 1)).toBe(true);
  });

  it('clear sums every shard and keeps the directories', () => {
    const cache = filled(4, 250);
    expect(cache.clear()).toBe(250);
    expect(cache.size).toBe(0);
    expect(fs.existsSync(path.join(cache.directory, '003', 'cache.db'))).toBe(true);
  });

  it('cull removes expired entries, then culls each shard to its share of sizeLimit', () => {
    const cache = fanout({ shards: 2, sizeLimit: 2 * 40_000, cullLimit: 0 });
    for (let i = 0; i < 10; i++) cache.set(`file${i}`, Buffer.alloc(40_000, i));
    cache.set('gone', 1, { expire: -1 });
    expect(cache.volume()).toBeGreaterThan(80_000);
    const removed = cache.cull();
    expect(removed).toBe(11); // a shard database alone is 32 KiB: every file goes
    expect(cache.has('gone')).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('keys chain the shards in order, each in insertion order; reverse chains them backwards', () => {
    const cache = fanout({ shards: 3 });
    const keys = Array.from({ length: 30 }, (_, i) => `key${i}`);
    for (const key of keys) cache.set(key, key.toUpperCase());
    const byShard = [0, 1, 2].map((shard) =>
      keys.filter((key) => cache.disk.hash(key) % 3 === shard),
    );
    expect([...cache.keys()]).toEqual(byShard.flat());
    expect([...cache]).toEqual(byShard.flat());
    expect([...cache.keys({ reverse: true })]).toEqual(byShard.flat().reverse());
    expect([...cache.entries()]).toEqual(byShard.flat().map((key) => [key, key.toUpperCase()]));
  });

  it('check concatenates the warnings of every shard', () => {
    const dir = tempDir('fanout');
    const cache = fanout({ shards: 3 }, dir);
    expect(cache.check()).toEqual([]);
    fs.writeFileSync(path.join(dir, '000', 'stray.val'), 'x');
    fs.writeFileSync(path.join(dir, '002', 'stray.val'), 'x');
    const past = new Date(Date.now() - 10 * 60_000); // older than check's grace period
    for (const shard of ['000', '002'])
      fs.utimesSync(path.join(dir, shard, 'stray.val'), past, past);
    const warnings = cache.check();
    expect(warnings.map((warning) => warning.kind)).toEqual(['unknown-file', 'unknown-file']);
    expect(warnings[0]!.path).toContain(`${path.sep}000${path.sep}`);
    expect(warnings[1]!.path).toContain(`${path.sep}002${path.sep}`);
    cache.check({ fix: true });
    expect(cache.check()).toEqual([]);
  });

  it('transact makes several shards change atomically and rolls all of them back on error', () => {
    const cache = fanout({ shards: 4 });
    const a = keyInShard(cache, 0);
    const b = keyInShard(cache, 3);
    const total = cache.transact(() => {
      cache.incr(a, 10);
      cache.incr(b, 5);
      return (cache.get(a) as number) + (cache.get(b) as number);
    });
    expect(total).toBe(15);
    expect(() =>
      cache.transact(() => {
        cache.set(a, 'changed');
        cache.set(b, 'changed');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect([cache.get(a), cache.get(b)]).toEqual([10, 5]);
    expect(cache.transact(() => cache.transact(() => cache.incr(a)))).toBe(11);
    expect(() => cache.transact(async () => 1)).toThrow(/synchronous/);
    expect(() => cache.transact('no' as never)).toThrow(TypeError);
  });

  it('memoize keeps results across the shards', async () => {
    const cache = fanout({ shards: 4 });
    let calls = 0;
    const square = cache.memoize()(function square(n: number) {
      calls++;
      return n * n;
    });
    for (let round = 0; round < 2; round++)
      for (let n = 0; n < 10; n++) expect(square(n)).toBe(n * n);
    expect(calls).toBe(10);
    expect(cache.size).toBe(10);
    const slow = cache.memoize({ name: 'slow' })(async (n: number) => n + 1);
    expect(await slow(1)).toBe(2);
    expect(cache.get(slow.cacheKey(1))).toBe(2);
    expect(() => cache.memoize(square as never)).toThrow(TypeError);
  });
});

describe('FanoutCache timeouts: a locked shard never throws', () => {
  it('writes return false, incr/decr null, reads the default, other shards keep working', async () => {
    const dir = tempDir('fanout');
    // LRU: every get takes the write lock, so a get can time out too.
    const cache = fanout({ shards: 4, evictionPolicy: 'least-recently-used' }, dir);
    const locked = keyInShard(cache, 1);
    const present = keyInShard(cache, 1, 'p');
    const free = keyInShard(cache, 2);
    cache.set(present, 'here');
    const release = lockShard(dir, 1);
    try {
      expect(cache.set(locked, 'v')).toBe(false);
      expect(cache.add(locked, 'v')).toBe(false);
      expect(await cache.setStream(locked, Readable.from([Buffer.from('x')]))).toBe(false);
      expect(cache.touch(present, { expire: 10 })).toBe(false);
      expect(cache.delete(present)).toBe(false);
      expect(cache.incr(locked)).toBeNull();
      expect(cache.decr(locked)).toBeNull();
      expect(cache.get(present, { default: 'fallback' })).toBe('fallback');
      expect(cache.get(present)).toBeUndefined();
      expect(cache.getEntry(present)).toBeUndefined();
      expect(cache.pop(present, { default: 'fallback' })).toBe('fallback');
      expect(cache.popEntry(present)).toBeUndefined();
      expect(cache.has(present)).toBe(true); // a plain read takes no lock
      expect(cache.set(free, 'v')).toBe(true);
      expect(cache.get(free)).toBe('v');
    } finally {
      release();
    }
    // Nothing was written or removed in the locked shard.
    expect(cache.has(locked)).toBe(false);
    expect(cache.get(present)).toBe('here');
    expect(cache.getEntry(present)?.expireTime).toBeNull();
  });

  it("a plain Cache with the same lock throws Timeout (the policy is FanoutCache's)", () => {
    const dir = tempDir('fanout');
    const cache = fanout({ shards: 2 }, dir);
    const key = keyInShard(cache, 0);
    using shard = new Cache(path.join(dir, '000'), { timeout: 0.01 });
    const release = lockShard(dir, 0);
    try {
      expect(() => shard.set(key, 1)).toThrow(Timeout);
      expect(cache.set(key, 1)).toBe(false);
    } finally {
      release();
    }
    expect(cache.set(key, 1)).toBe(true);
  });

  it('check throws Timeout on a locked shard unless retry is set, as diskcache does', () => {
    const dir = tempDir('fanout');
    const cache = fanout({ shards: 2 }, dir);
    const release = lockShard(dir, 1);
    try {
      expect(() => cache.check()).toThrow(Timeout);
    } finally {
      release();
    }
  });
});

describe('FanoutCache sub-collections', () => {
  it('cache(name) opens a Cache under cache/<name>, reused per name and closed with the fanout', () => {
    const dir = tempDir('fanout');
    const cache = new FanoutCache(dir, { shards: 2 });
    const users = cache.cache('users');
    expect(cache.cache('users')).toBe(users);
    expect(users.directory).toBe(path.join(dir, 'cache', 'users'));
    expect(users.timeout).toBe(60);
    users.set('id', 1);
    const nested = cache.cache('a/b/c', { evictionPolicy: 'none' });
    expect(nested.directory).toBe(path.join(dir, 'cache', 'a', 'b', 'c'));
    expect(nested.settings.eviction_policy).toBe('none');
    expect(cache.size).toBe(0);
    cache.close();
    expect(users.closed).toBe(true);
    expect(nested.closed).toBe(true);
    using again = new Cache(path.join(dir, 'cache', 'users'));
    expect(again.get('id')).toBe(1);
  });

  it('deque(name) opens a Deque under deque/<name>, never evicting, reused and closed with the fanout', () => {
    const dir = tempDir('fanout');
    const cache = new FanoutCache(dir, { shards: 2 });
    const jobs = cache.deque<string>('jobs', { maxlen: 3 });
    expect(cache.deque('jobs')).toBe(jobs);
    expect(jobs.directory).toBe(path.join(dir, 'deque', 'jobs'));
    expect(jobs.cache.settings.eviction_policy).toBe('none');
    jobs.extend(['a', 'b', 'c', 'd']);
    expect([...jobs]).toEqual(['b', 'c', 'd']);
    expect(jobs.popLeft()).toBe('b');
    expect(cache.deque('other/jobs').directory).toBe(path.join(dir, 'deque', 'other', 'jobs'));
    expect(() => cache.deque('bad', { maxlen: -1 })).toThrow(RangeError);
    cache.close();
    expect(jobs.cache.closed).toBe(true);
    expect(() => jobs.append('x')).toThrow();
    using again = new FanoutCache(dir, { shards: 2 });
    expect([...again.deque('jobs')]).toEqual(['c', 'd']);
  });

  it('index(name) opens an Index under index/<name>, reused and closed with the fanout', () => {
    const dir = tempDir('fanout');
    const cache = new FanoutCache(dir, { shards: 2 });
    const users = cache.index<string, number>('users');
    expect(cache.index('users')).toBe(users);
    expect(users.directory).toBe(path.join(dir, 'index', 'users'));
    expect(users.cache.settings.eviction_policy).toBe('none');
    users.set('ann', 1).set('bob', 2);
    expect([...users.keys()]).toEqual(['ann', 'bob']);
    expect(cache.size).toBe(0);
    cache.close();
    expect(users.cache.closed).toBe(true);
    using again = new FanoutCache(dir, { shards: 2 });
    expect(again.index('users').get('bob')).toBe(2);
  });

  it('rejects names that are empty, have empty segments or leave the folder', () => {
    const cache = fanout({ shards: 2 });
    for (const name of ['', '/abs', 'a//b', 'a/', '..', 'a/../b', '.', 'a\\b', 'nul\0']) {
      expect(() => cache.cache(name), name).toThrow(RangeError);
      expect(() => cache.deque(name), name).toThrow(RangeError);
      expect(() => cache.index(name), name).toThrow(RangeError);
    }
    expect(() => cache.cache(5 as unknown as string)).toThrow(TypeError);
    expect(() => cache.index(null as unknown as string)).toThrow(TypeError);
    for (const kind of ['cache', 'deque', 'index'])
      expect(fs.existsSync(path.join(cache.directory, kind))).toBe(false);
  });
});

describe('FanoutCache lifecycle', () => {
  it('close closes every shard; using disposes it', () => {
    const dir = tempDir('fanout');
    {
      using cache = new FanoutCache(dir, { shards: 2 });
      cache.set('k', 'v');
      expect(cache.closed).toBe(false);
    }
    const cache = new FanoutCache(dir, { shards: 2 });
    expect(cache.get('k')).toBe('v');
    cache.close();
    cache.close();
    expect(cache.closed).toBe(true);
    expect(() => cache.get('k')).toThrow();
  });
});
