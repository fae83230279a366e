/**
 * Cache basics: opening, settings and lifecycle; get/set/getEntry/has/delete/pop round trips of
 * every value and key type; stats and volume; custom Disk classes. Value files, read() and
 * setStream() are in value-files.test.ts; expiry, queues, iteration, transactions and
 * maintenance have their own files too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Cache,
  DEFAULT_SETTINGS,
  Disk,
  type DiskOptions,
  JSONDisk,
  KeyError,
} from '../../src/index.js';
import { filesUnder, openCache, rawDb, storedRows } from '../fixtures/cache-test-kit.js';
import { tempDir } from '../helpers/tmp.js';

describe('opening and settings', () => {
  it('creates cache.db in a new directory, with every default setting', () => {
    const dir = path.join(tempDir('open'), 'a', 'b');
    const cache = openCache(undefined, dir);
    expect(fs.existsSync(path.join(dir, 'cache.db'))).toBe(true);
    expect(cache.directory).toBe(dir);
    expect(cache.timeout).toBe(60);
    expect(cache.disk).toBeInstanceOf(Disk);
    expect(cache.size).toBe(0);
    for (const [name, value] of Object.entries(DEFAULT_SETTINGS)) {
      expect(
        Number.isNaN(Number(value)) ? cache.settings[name] : Number(cache.settings[name]),
        name,
      ).toEqual(value);
    }
  });

  it('makes a new temporary directory when none is given', () => {
    const cache = new Cache();
    try {
      expect(path.isAbsolute(cache.directory)).toBe(true);
      expect(path.basename(cache.directory)).toMatch(/^diskcache-/);
      cache.set('k', 1);
      expect(fs.existsSync(path.join(cache.directory, 'cache.db'))).toBe(true);
    } finally {
      cache.close();
      fs.rmSync(cache.directory, { recursive: true, force: true });
    }
  });

  it('resolves a relative directory to an absolute one', () => {
    const base = tempDir('relative');
    const relative = path.relative(process.cwd(), path.join(base, 'c'));
    const cache = openCache(undefined, relative);
    expect(cache.directory).toBe(path.join(base, 'c'));
  });

  it('persists options under diskcache names and a second opener inherits them', () => {
    const dir = tempDir('settings');
    const first = openCache(
      {
        sizeLimit: 12_345_678,
        cullLimit: 3,
        evictionPolicy: 'least-frequently-used',
        statistics: true,
        tagIndex: true,
        minFileSize: 100,
      },
      dir,
    );
    first.close();
    const second = openCache(undefined, dir);
    expect(second.settings).toMatchObject({
      size_limit: 12_345_678,
      cull_limit: 3,
      eviction_policy: 'least-frequently-used',
      statistics: 1,
      tag_index: 1,
      disk_min_file_size: 100,
    });
    expect(second.disk.minFileSize).toBe(100);
    // The inherited minFileSize is in force: 100 characters go to a file.
    second.set('long', 'x'.repeat(100));
    expect(storedRows(dir)[0]!.mode).toBe(3n);
    // And the stored values are typed as Python stores them: integers as INTEGER.
    const db = storedSettings(dir);
    expect(db.size_limit).toEqual({ value: 12_345_678n, type: 'integer' });
    expect(db.eviction_policy).toEqual({ value: 'least-frequently-used', type: 'text' });
  });

  it('an opener that passes an option overwrites it for everyone; reset() reloads it', () => {
    const dir = tempDir('overwrite');
    const first = openCache({ sizeLimit: 1000 }, dir);
    const second = openCache({ sizeLimit: 2000 }, dir);
    expect(second.settings.size_limit).toBe(2000);
    expect(first.settings.size_limit).toBe(1000); // stale until reset
    expect(first.reset('size_limit')).toBe(2000);
    expect(first.settings.size_limit).toBe(2000);
    expect(first.reset('sizeLimit')).toBe(2000);
  });

  it('reset(setting, value) writes the setting for every opener and validates it', () => {
    const dir = tempDir('reset');
    const first = openCache(undefined, dir);
    const second = openCache(undefined, dir);
    expect(first.reset('cull_limit', 0)).toBe(0);
    expect(second.reset('cull_limit')).toBe(0);
    expect(first.reset('sizeLimit', 4096)).toBe(4096);
    expect(second.reset('size_limit')).toBe(4096);
    expect(first.reset('statistics', true)).toBe(1);
    expect(() => first.reset('sizeLimit', -5)).toThrow(RangeError);
    expect(() => first.reset('eviction_policy', 'random')).toThrow(/evictionPolicy.*"random"/);
    expect(() => first.reset('no_such_setting')).toThrow(KeyError);
    expect(second.reset('size_limit')).toBe(4096);
  });

  it('reset of a pragma setting applies the pragma', () => {
    const cache = openCache();
    expect(cache.reset('sqlite_cache_size', 1000)).toBe(1000);
    expect(cache.settings.sqlite_cache_size).toBe(1000);
    const dir = cache.directory;
    cache.close();
    expect(openCache(undefined, dir).settings.sqlite_cache_size).toBe(1000);
  });

  it('sqlite options become persisted pragmas', () => {
    const dir = tempDir('pragmas');
    const cache = openCache(
      { sqlite: { journalMode: 'DELETE', synchronous: 2, cacheSize: -2000, mmapSize: 0 } },
      dir,
    );
    cache.set('k', 1);
    expect(fs.existsSync(path.join(dir, 'cache.db-wal'))).toBe(false);
    expect(rawDb(dir).pragma('journal_mode', { simple: true })).toBe('delete');
    cache.close();
    expect(openCache(undefined, dir).settings).toMatchObject({
      sqlite_journal_mode: 'delete',
      sqlite_synchronous: 2,
      sqlite_cache_size: -2000,
      sqlite_mmap_size: 0,
    });
  });

  it('sqlite.walAutocheckpoint sets how large the WAL grows between checkpoints, for every opener', () => {
    // 300 commits of a 16 KB value each append about 8 pages (the row's overflow pages, the
    // indexes, Settings) to the WAL: about 2,400 pages. With SQLite's default (1,000 pages) a
    // commit checkpoints and the WAL restarts from its beginning, so the file stays near 1,000
    // pages; with 4,000 no checkpoint runs and the file holds every frame.
    const PAGE_FRAME = 4096 + 24;
    const walPages = (options: Parameters<typeof openCache>[0], reopen: boolean) => {
      const dir = tempDir('wal-autocheckpoint');
      openCache(options, dir).close();
      const cache = reopen ? openCache(undefined, dir) : openCache(options, dir);
      const value = Buffer.alloc(16_000, 7);
      for (let i = 0; i < 300; i++) cache.set(`k${i}`, value);
      const pages = fs.statSync(path.join(dir, 'cache.db-wal')).size / PAGE_FRAME;
      const setting = cache.settings.sqlite_wal_autocheckpoint;
      cache.close();
      return { pages, setting };
    };
    const byDefault = walPages(undefined, false);
    expect(byDefault.setting).toBeUndefined();
    expect(byDefault.pages).toBeLessThan(1_100);
    const larger = walPages({ sqlite: { walAutocheckpoint: 4000 } }, false);
    expect(larger.setting).toBe(4000);
    expect(larger.pages).toBeGreaterThan(2_000);
    // Stored as a setting, so a later opener that passes nothing gets it too.
    const inherited = walPages({ sqlite: { walAutocheckpoint: 4000 } }, true);
    expect(inherited.setting).toBe(4000);
    expect(inherited.pages).toBeGreaterThan(2_000);
    expect(() => openCache({ sqlite: { walAutocheckpoint: -1 } })).toThrow(
      /sqlite\.walAutocheckpoint/,
    );
    expect(() => openCache({ sqlite: { walAutocheckpoint: 1.5 } })).toThrow(RangeError);
  });

  it('opens WAL mode and creates the policy index', () => {
    const cache = openCache({ evictionPolicy: 'least-recently-used' });
    const db = rawDb(cache.directory);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all();
    expect(indexes).toEqual(
      expect.arrayContaining(['Cache_key_raw', 'Cache_expire_time', 'Cache_access_time']),
    );
    db.close();
  });

  it('close() is idempotent, Symbol.dispose closes, and a closed cache throws', () => {
    const cache = openCache();
    cache.set('k', 1);
    expect(cache.closed).toBe(false);
    cache[Symbol.dispose]();
    expect(cache.closed).toBe(true);
    cache.close();
    expect(() => cache.get('k')).toThrow();
    expect(() => cache.set('k', 2)).toThrow();
    const again = openCache(undefined, cache.directory);
    expect(again.get('k')).toBe(1);
  });

  it('a copy of the directory (closed cache) is a working cache', () => {
    const cache = openCache({ minFileSize: 100 });
    cache.set('inline', { a: 1 });
    cache.set('file', 'f'.repeat(500));
    cache.close();
    const copy = path.join(tempDir('copy'), 'copied');
    fs.cpSync(cache.directory, copy, { recursive: true });
    const copied = openCache(undefined, copy);
    expect(copied.get('inline')).toEqual({ a: 1 });
    expect(copied.get('file')).toBe('f'.repeat(500));
    expect(copied.check()).toEqual([]);
    copied.set('new', 1);
    expect(openCache(undefined, cache.directory).has('new')).toBe(false);
  });

  it('two objects on one directory in one process see each other', () => {
    const dir = tempDir('two');
    const a = openCache(undefined, dir);
    const b = openCache(undefined, dir);
    a.set('x', 'from a');
    expect(b.get('x')).toBe('from a');
    b.delete('x');
    expect(a.has('x')).toBe(false);
  });
});

describe('values keep their type', () => {
  const values: [string, unknown][] = [
    ['null', null],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['negative zero', -0],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['float', 1.5],
    ['negative int', -42],
    ['max safe integer', Number.MAX_SAFE_INTEGER],
    ['2**53 (unsafe number)', 2 ** 53],
    ['1e300', 1e300],
    ['small bigint', 5n],
    ['bigint beyond int64', 2n ** 70n],
    ['negative bigint', -(2n ** 64n)],
    ['empty string', ''],
    ['unicode string', 'héllo wörld ✓ 𝄞'],
    ['string with a lone surrogate', 'a\uD800b\uDFFF'],
    ['long string with a lone surrogate', `${'x'.repeat(40_000)}\uDC00`],
    ['Buffer', Buffer.from([0, 1, 2, 255])],
    ['empty Buffer', Buffer.alloc(0)],
    ['Uint8Array', new Uint8Array([1, 2, 3])],
    ['Float64Array', new Float64Array([1.5, -2])],
    ['BigInt64Array', new BigInt64Array([1n, -1n])],
    [
      'Map',
      new Map<unknown, unknown>([
        [1, 'a'],
        ['b', new Set([2])],
      ]),
    ],
    ['Set', new Set([1, 'two', 3n])],
    ['Date', new Date('2024-02-29T12:34:56.789Z')],
    ['RegExp', /ab+c/gi],
    ['nested object', { a: [1, { b: 'c' }], d: null, e: undefined, f: 2n }],
    ['array with a hole', Object.assign(new Array(3), { 0: 1, 2: 3 })],
    ['huge array', Array.from({ length: 10_000 }, (_, i) => i)],
  ];

  it.each(values)('%s', (_name, value) => {
    const cache = openCache();
    expect(cache.set('k', value)).toBe(true);
    const back = cache.get('k');
    expect(Object.prototype.toString.call(back)).toBe(Object.prototype.toString.call(value));
    expect((back as object | null)?.constructor).toBe((value as object | null)?.constructor);
    if (typeof value === 'number') expect(Object.is(back, value)).toBe(true);
    else expect(back).toStrictEqual(value);
    // The same through a second opener (a fresh connection reads it from disk).
    const other = openCache(undefined, cache.directory);
    expect(other.get('k')).toStrictEqual(value);
  });

  it('stores strings, buffers and numbers natively (mode 1), as diskcache does', () => {
    const cache = openCache();
    cache.set('s', 'text');
    cache.set('b', Buffer.from('bytes'));
    cache.set('i', 7);
    cache.set('big', 2n ** 62n);
    cache.set('f', 2.5);
    cache.set('o', { a: 1 });
    const rows = Object.fromEntries(storedRows(cache.directory).map((row) => [row.key, row]));
    expect(rows.s).toMatchObject({
      mode: 1n,
      valueType: 'text',
      value: 'text',
      filename: null,
      size: 0n,
    });
    expect(rows.b).toMatchObject({ mode: 1n, valueType: 'blob', filename: null });
    expect(rows.i).toMatchObject({ mode: 1n, valueType: 'integer', value: 7n });
    // bigints beyond 2**53 (within int64) are INTEGER, as Python ints: they read back as bigint.
    expect(rows.big).toMatchObject({ mode: 1n, valueType: 'integer', value: 2n ** 62n });
    expect(rows.f).toMatchObject({ mode: 1n, valueType: 'real', value: 2.5 });
    expect(rows.o).toMatchObject({ mode: 4n, valueType: 'blob', filename: null });
    expect(cache.get('big')).toBe(2n ** 62n);
  });

  it('undefined reads as absent and the default is returned for a miss', () => {
    const cache = openCache();
    expect(cache.get('missing')).toBeUndefined();
    expect(cache.get('missing', { default: 'fallback' })).toBe('fallback');
    cache.set('null', null);
    expect(cache.get('null', { default: 'fallback' })).toBeNull();
  });

  it('overwriting keeps one entry and its insertion position', () => {
    const cache = openCache();
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 'one');
    expect(cache.size).toBe(2);
    expect([...cache.keys()]).toEqual(['a', 'b']);
    expect(cache.get('a')).toBe('one');
  });
});

describe('keys', () => {
  it('native keys are stored natively with raw=1; 1, 1n and 1.0 are one key', () => {
    const cache = openCache();
    cache.set('text', 's');
    cache.set(7, 'int');
    cache.set(2.5, 'float');
    cache.set(2n ** 62n, 'bigint');
    cache.set(Buffer.from('bin'), 'buffer');
    const rows = storedRows(cache.directory);
    expect(rows.map((row) => [row.keyType, row.raw])).toEqual([
      ['text', 1n],
      ['integer', 1n],
      ['real', 1n],
      ['integer', 1n],
      ['blob', 1n],
    ]);
    cache.set(1, 'a');
    cache.set(1n, 'b');
    expect(cache.get(1.0)).toBe('b');
    expect(cache.size).toBe(6);
    expect(cache.get(new Uint8Array(Buffer.from('bin')))).toBe('buffer');
    expect(cache.get(2n ** 62n)).toBe('bigint');
    expect(cache.get('7')).toBeUndefined();
  });

  it('string keys with lone surrogates stay distinct and read back unchanged', () => {
    const cache = openCache();
    cache.set('\uD800', 'high');
    cache.set('\uDBFF', 'other high');
    cache.set('\uFFFD', 'replacement character');
    expect(cache.size).toBe(3);
    expect(cache.get('\uD800')).toBe('high');
    expect([...cache.keys()]).toEqual(['\uD800', '\uDBFF', '\uFFFD']);
  });

  it('structured keys: deep-equal objects with different key order are one entry', () => {
    const cache = openCache();
    cache.set({ user: 1, page: { n: 2, tags: ['a', 'b'] } }, 'first');
    cache.set({ page: { tags: ['a', 'b'], n: 2 }, user: 1 }, 'second');
    expect(cache.size).toBe(1);
    expect(cache.get({ page: { n: 2, tags: ['a', 'b'] }, user: 1 })).toBe('second');
    expect(cache.get({ user: 1, page: { n: 2, tags: ['b', 'a'] } })).toBeUndefined();
    expect(storedRows(cache.directory)[0]!.raw).toBe(0n);
  });

  it('structured keys of every kind read back deep-equal from keys()', () => {
    const cache = openCache();
    const keys: unknown[] = [
      [1, 'a', null],
      [],
      {},
      true,
      false,
      null,
      2n ** 80n,
      {
        nested: [{ deep: [1.5, -0.25, Number.POSITIVE_INFINITY] }],
        buf: Buffer.from('x'),
        big: -(2n ** 70n),
      },
      [[['deep']]],
    ];
    for (const [i, key] of keys.entries()) cache.set(key, i);
    expect(cache.size).toBe(keys.length);
    for (const [i, key] of keys.entries()) expect(cache.get(key)).toBe(i);
    expect([...cache.keys()]).toEqual(keys);
    // A list and the same items in another shape are different keys.
    expect(cache.get([[['deep']]])).toBe(8);
    expect(cache.get([['deep']])).toBeUndefined();
    expect(cache.get(['1', 'a', null])).toBeUndefined();
  });
});

describe('get, getEntry, has, delete, pop', () => {
  it('getEntry returns value, expiry time and tag', () => {
    const cache = openCache();
    const before = Date.now() / 1000;
    cache.set('k', { v: 1 }, { expire: 100, tag: 'red' });
    const entry = cache.getEntry('k');
    expect(entry?.key).toBe('k');
    expect(entry?.value).toEqual({ v: 1 });
    expect(entry?.tag).toBe('red');
    expect(entry?.expireTime).toBeGreaterThanOrEqual(before + 100);
    expect(entry?.expireTime).toBeLessThanOrEqual(Date.now() / 1000 + 100);
    cache.set('plain', 1);
    expect(cache.getEntry('plain')).toEqual({
      key: 'plain',
      value: 1,
      expireTime: null,
      tag: null,
    });
    expect(cache.getEntry('missing')).toBeUndefined();
  });

  it('a set without a tag clears the old tag', () => {
    const cache = openCache();
    cache.set('k', 1, { tag: 'old' });
    cache.set('k', 2);
    expect(cache.getEntry('k')?.tag).toBeNull();
  });

  it('has and delete', () => {
    const cache = openCache();
    expect(cache.has('k')).toBe(false);
    cache.set('k', 0);
    expect(cache.has('k')).toBe(true);
    expect(cache.delete('k')).toBe(true);
    expect(cache.delete('k')).toBe(false);
    expect(cache.has('k')).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('pop and popEntry remove the entry and return it', () => {
    const cache = openCache();
    cache.set('k', 'v', { tag: 7, expire: 50 });
    const entry = cache.popEntry('k');
    expect(entry).toMatchObject({ key: 'k', value: 'v', tag: 7 });
    expect(entry?.expireTime).toBeGreaterThan(Date.now() / 1000);
    expect(cache.has('k')).toBe(false);
    expect(cache.popEntry('k')).toBeUndefined();
    cache.set('n', 3);
    expect(cache.pop('n')).toBe(3);
    expect(cache.pop('n')).toBeUndefined();
    expect(cache.pop('n', { default: 'none' })).toBe('none');
  });
});

describe('stats and volume', () => {
  it('counts hits and misses of get only when enabled; reset zeroes them', () => {
    const cache = openCache();
    cache.set('k', 1);
    cache.get('k');
    cache.get('nope');
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 });
    // A bare stats() leaves counting off (diskcache's stats() would turn it on).
    cache.get('k');
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 });
    expect(cache.settings.statistics).toBe(0);
    expect(cache.stats({ enable: true })).toEqual({ hits: 0, misses: 0 });
    cache.get('k');
    cache.get('k');
    cache.get('nope');
    cache.getEntry('k');
    cache.has('k');
    cache.pop('nope');
    cache.incr('counter');
    expect(cache.stats()).toEqual({ hits: 3, misses: 1 });
    // A second opener sees the same counters (they live in the Settings table).
    expect(openCache(undefined, cache.directory).stats()).toEqual({ hits: 3, misses: 1 });
    expect(cache.stats({ reset: true })).toEqual({ hits: 3, misses: 1 });
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 });
    cache.stats({ enable: false });
    cache.get('k');
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 });
  });

  it('volume counts database pages plus value files', () => {
    const cache = openCache({ minFileSize: 1000 });
    const empty = cache.volume();
    expect(empty).toBeGreaterThan(0);
    expect(empty % 4096).toBe(0);
    cache.set('big', Buffer.alloc(50_000));
    expect(cache.volume()).toBeGreaterThanOrEqual(empty + 50_000);
    cache.delete('big');
    expect(cache.volume()).toBeLessThan(empty + 50_000);
  });
});

describe('custom Disk', () => {
  class NamedDisk extends Disk {
    override filename(key?: unknown): { relative: string; full: string } {
      const relative = `named/${String(key)}.val`;
      return { relative, full: path.join(this.directory, relative) };
    }
  }

  it('uses a Disk subclass for value files', () => {
    const cache = openCache({ disk: NamedDisk, minFileSize: 10 });
    expect(cache.disk).toBeInstanceOf(NamedDisk);
    cache.set('alpha', 'a'.repeat(100));
    expect(filesUnder(cache.directory)).toEqual(['named/alpha.val']);
    expect(cache.get('alpha')).toBe('a'.repeat(100));
    expect(cache.check()).toEqual([]);
  });

  it('passes diskOptions to the Disk and JSONDisk round-trips JSON values', () => {
    const seen: DiskOptions[] = [];
    class RecordingDisk extends JSONDisk {
      constructor(directory: string, options: DiskOptions) {
        super(directory, options);
        seen.push(options);
      }
    }
    const cache = openCache({ disk: RecordingDisk, diskOptions: { compress_level: 6 } });
    expect(seen[0]).toMatchObject({ compress_level: 6, minFileSize: 32768 });
    cache.set({ k: [1, 2] }, { v: 'x', list: [1, null] });
    expect(cache.get({ k: [1, 2] })).toEqual({ v: 'x', list: [1, null] });
    expect([...cache.keys()]).toEqual([{ k: [1, 2] }]);
    expect(storedRows(cache.directory)[0]).toMatchObject({ raw: 1n, keyType: 'blob', mode: 1n });
  });
});

function storedSettings(directory: string): Record<string, { value: unknown; type: string }> {
  const db = rawDb(directory);
  const rows = db.prepare('SELECT key, value, typeof(value) AS type FROM Settings').all() as {
    key: string;
    value: unknown;
    type: string;
  }[];
  db.close();
  return Object.fromEntries(rows.map((row) => [row.key, { value: row.value, type: row.type }]));
}
