/**
 * Bad input and runtime failures: invalid options, keys and values (TypeError/RangeError naming
 * the option and the value), directories that cannot be used and corrupted databases
 * (DatabaseError, nothing written), and Timeout while another connection holds the write lock
 * (no orphan value file; retry waits for the lock).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache, DatabaseError, Disk, Timeout } from '../../src/index.js';
import { filesUnder, openCache } from '../fixtures/cache-test-kit.js';
import { exited, forkFixture, message, sent } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

describe('invalid options', () => {
  class NotADisk {}
  const cases: [string, Record<string, unknown>, RegExp, typeof TypeError | typeof RangeError][] = [
    ['negative sizeLimit', { sizeLimit: -1 }, /sizeLimit.*-1/, RangeError],
    ['NaN sizeLimit', { sizeLimit: Number.NaN }, /sizeLimit.*NaN/, TypeError],
    ['string sizeLimit', { sizeLimit: '1GB' }, /sizeLimit.*"1GB"/, TypeError],
    ['unknown evictionPolicy', { evictionPolicy: 'lifo' }, /evictionPolicy.*"lifo"/, RangeError],
    ['non-numeric timeout', { timeout: 'abc' }, /timeout.*"abc"/, TypeError],
    ['negative timeout', { timeout: -1 }, /timeout.*-1/, RangeError],
    ['fractional cullLimit', { cullLimit: 1.5 }, /cullLimit.*1\.5/, RangeError],
    ['negative minFileSize', { minFileSize: -1 }, /minFileSize.*-1/, RangeError],
    ['non-boolean statistics', { statistics: 'yes' }, /statistics.*"yes"/, TypeError],
    ['non-boolean tagIndex', { tagIndex: 1 }, /tagIndex.*1/, TypeError],
    ['unknown option name', { sizelimit: 100 }, /unknown option "sizelimit"/, TypeError],
    ['unknown sqlite option', { sqlite: { pageSize: 1 } }, /sqlite\.pageSize/, TypeError],
    ['bad journal mode', { sqlite: { journalMode: 'fast' } }, /journalMode.*"fast"/, RangeError],
    ['diskOptions value', { diskOptions: { level: {} } }, /diskOptions\.level/, TypeError],
    ['disk that is not a Disk subclass', { disk: NotADisk }, /disk.*class NotADisk/, TypeError],
    [
      'disk instance',
      { disk: new Disk('/tmp', { minFileSize: 1 }) },
      /disk.*instance of Disk/,
      TypeError,
    ],
    ['disk string', { disk: 'JSONDisk' }, /disk.*"JSONDisk"/, TypeError],
  ];

  it.each(cases)('%s', (_name, options, pattern, kind) => {
    const dir = path.join(tempDir('options'), 'never-created');
    let caught: unknown;
    try {
      new Cache(dir, options as never).close();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(kind);
    expect((caught as Error).message).toMatch(pattern);
    // Validation happens before anything touches the disk.
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('options and directory of the wrong type', () => {
    expect(() => new Cache(tempDir('t'), null as never)).toThrow(
      /options must be an object, got null/,
    );
    expect(() => new Cache(42 as never)).toThrow(/directory must be a string path, got number/);
  });

  it('an empty directory string is refused (it would put cache.db in the working directory)', () => {
    const before = fs.existsSync(path.join(process.cwd(), 'cache.db'));
    expect(() => new Cache('')).toThrow(/directory must be a non-empty path, got ""/);
    expect(fs.existsSync(path.join(process.cwd(), 'cache.db'))).toBe(before);
  });
});

describe('invalid keys and values', () => {
  it('undefined, functions and symbols as values are TypeErrors and store nothing', () => {
    const cache = openCache();
    expect(() => cache.set('k', undefined)).toThrow(/undefined/);
    expect(() => cache.add('k', undefined)).toThrow(TypeError);
    expect(() => cache.push(undefined)).toThrow(TypeError);
    expect(() => cache.set('k', () => 1)).toThrow(/function/);
    expect(() => cache.set('k', Symbol('s'))).toThrow(/symbol/);
    expect(() => cache.set('k', { nested: () => 1 })).toThrow(/structured clone/);
    expect(() => cache.set('k', new WeakMap())).toThrow(TypeError);
    expect(cache.size).toBe(0);
    expect(filesUnder(cache.directory)).toEqual([]);
  });

  it('NaN, undefined, functions, symbols and class instances as keys are TypeErrors', () => {
    const cache = openCache();
    const badKeys: [unknown, RegExp][] = [
      [Number.NaN, /NaN/],
      [undefined, /undefined/],
      [() => 1, /function/],
      [Symbol('k'), /symbol/],
      [[1, Number.NaN], /NaN/],
      [{ a: undefined }, /undefined/],
      [new Map(), /Map/],
      [{ when: new (class Custom {})() }, /Custom/],
    ];
    for (const [key, pattern] of badKeys) {
      expect(() => cache.set(key, 1), String(key)).toThrow(pattern);
      expect(() => cache.get(key)).toThrow(TypeError);
      expect(() => cache.has(key)).toThrow(TypeError);
      expect(() => cache.delete(key)).toThrow(TypeError);
      expect(() => cache.incr(key)).toThrow(TypeError);
      expect(() => cache.add(key, 1)).toThrow(TypeError);
    }
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => cache.set(deep, 1)).toThrow(/nested/);
    expect(cache.size).toBe(0);
  });

  it('bad expire, tag, now and setting names', () => {
    const cache = openCache();
    expect(() => cache.set('k', 1, { expire: 'soon' as never })).toThrow(/expire.*soon/);
    expect(() => cache.set('k', 1, { expire: Number.NaN })).toThrow(/expire/);
    expect(() => cache.touch('k', { expire: 'soon' as never })).toThrow(/expire/);
    expect(() => cache.set('k', 1, { tag: {} as never })).toThrow(/tag/);
    expect(() => cache.set('k', 1, { tag: Number.NaN })).toThrow(/tag.*NaN/);
    expect(() => cache.expire('now' as never)).toThrow(/now/);
    expect(() => cache.reset(5 as never)).toThrow(/setting/);
    expect(cache.size).toBe(0);
  });
});

describe('unusable directories and databases', () => {
  it('a directory whose parent is a regular file: DatabaseError naming the path', () => {
    const base = tempDir('file-parent');
    fs.writeFileSync(path.join(base, 'file'), 'x');
    const dir = path.join(base, 'file', 'cache');
    expect(() => new Cache(dir)).toThrow(DatabaseError);
    expect(() => new Cache(dir)).toThrow(dir);
    // The directory itself a regular file, and cache.db a directory, fail the same way.
    expect(() => new Cache(path.join(base, 'file'))).toThrow(DatabaseError);
    fs.mkdirSync(path.join(base, 'db-dir', 'cache.db'), { recursive: true });
    expect(() => new Cache(path.join(base, 'db-dir'))).toThrow(/cannot open .*cache\.db/);
  });

  it('a cache.db of garbage bytes: DatabaseError, and the file is left as it was', () => {
    const dir = tempDir('garbage');
    const garbage = randomBytes(16 * 1024);
    fs.writeFileSync(path.join(dir, 'cache.db'), garbage);
    let caught: unknown;
    try {
      new Cache(dir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DatabaseError);
    expect((caught as Error).message).toMatch(/cache\.db is not a valid cache database/);
    expect((caught as Error).message).toContain(dir);
    expect(fs.readFileSync(path.join(dir, 'cache.db')).equals(garbage)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['cache.db']);
  });

  it('a database whose pages are corrupted: DatabaseError, and nothing written to it', () => {
    const dir = tempDir('corrupt');
    const cache = new Cache(dir);
    cache.transact(() => {
      for (let i = 0; i < 2000; i++) cache.set(i, `value ${i}`);
    });
    cache.close();
    const file = path.join(dir, 'cache.db');
    const bytes = fs.readFileSync(file);
    randomBytes(bytes.length - 4096).copy(bytes, 4096); // keep the header page, scramble the rest
    fs.writeFileSync(file, bytes);
    expect(() => new Cache(dir)).toThrow(
      /not a valid cache database \(database disk image is malformed\)/,
    );
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    const wal = path.join(dir, 'cache.db-wal');
    expect(fs.existsSync(wal) ? fs.statSync(wal).size : 0).toBe(0);
  });
});

describe('Timeout while another connection holds the write lock', () => {
  let holder: Database.Database | undefined;
  afterEach(() => {
    if (holder?.inTransaction) holder.prepare('ROLLBACK').run();
    holder?.close();
    holder = undefined;
  });

  function lockedCache(options: ConstructorParameters<typeof Cache>[1] = {}): Cache {
    const cache = openCache({ timeout: 0.05, minFileSize: 1000, cullLimit: 0, ...options });
    cache.set('present', 1);
    cache.set('tagged', 1, { tag: 't' });
    cache.push('queued');
    holder = new Database(path.join(cache.directory, 'cache.db'));
    holder.prepare('BEGIN IMMEDIATE').run();
    return cache;
  }

  it('every write throws Timeout; reads without the lock still work', () => {
    const cache = lockedCache();
    const writes: [string, () => unknown][] = [
      ['set', () => cache.set('k', 1)],
      ['add', () => cache.add('k', 1)],
      ['incr', () => cache.incr('n')],
      ['decr', () => cache.decr('n')],
      ['delete', () => cache.delete('present')],
      ['touch', () => cache.touch('present', { expire: 10 })],
      ['pop', () => cache.pop('present')],
      ['popEntry', () => cache.popEntry('present')],
      ['push', () => cache.push('x')],
      ['pull', () => cache.pull()],
      ['peek', () => cache.peek()],
      ['peekItem', () => cache.peekItem()],
      ['clear', () => cache.clear()],
      ['evict', () => cache.evict('t')],
      ['expire', () => cache.expire()],
      ['cull', () => cache.cull()],
      ['check', () => cache.check()],
      ['transact', () => cache.transact(() => 1)],
    ];
    for (const [name, write] of writes) {
      let caught: unknown;
      try {
        write();
      } catch (error) {
        caught = error;
      }
      expect(caught, name).toBeInstanceOf(Timeout);
      expect((caught as Timeout).name).toBe('Timeout');
      expect((caught as Timeout).message).toContain(cache.directory);
    }
    expect(cache.get('present')).toBe(1);
    expect(cache.has('present')).toBe(true);
    expect([...cache.keys()]).toHaveLength(3);
    expect(cache.size).toBe(3);
    holder!.prepare('ROLLBACK').run();
    expect(cache.set('k', 1)).toBe(true);
    expect(cache.pop('present')).toBe(1);
  });

  it('the batch removers report how many they removed before the Timeout', () => {
    const cache = lockedCache();
    let caught: unknown;
    try {
      cache.clear();
    } catch (error) {
      caught = error;
    }
    expect((caught as Timeout).count).toBe(0);
  });

  it('gets that write (statistics, LRU) time out too', () => {
    const stats = lockedCache({ statistics: true });
    expect(() => stats.get('present')).toThrow(Timeout);
    expect(stats.has('present')).toBe(true);
    holder!.prepare('ROLLBACK').run();
    holder!.close();
    const lru = lockedCache({ evictionPolicy: 'least-recently-used' });
    expect(() => lru.get('present')).toThrow(Timeout);
    expect(() => lru.getEntry('present')).toThrow(Timeout);
  });

  it('leaves no orphan value file after a Timeout on a large value', async () => {
    const cache = lockedCache();
    const big = Buffer.alloc(50_000, 1);
    expect(() => cache.set('big', big)).toThrow(Timeout);
    expect(() => cache.add('big', big)).toThrow(Timeout);
    expect(() => cache.push(big)).toThrow(Timeout);
    expect(() => cache.set('big-text', 'x'.repeat(5000))).toThrow(Timeout);
    expect(() => cache.transact(() => cache.set('big', big))).toThrow(Timeout);
    await expect(cache.setStream('streamed', Readable.from([big]))).rejects.toThrow(Timeout);
    expect(filesUnder(cache.directory)).toEqual([]);
    holder!.prepare('ROLLBACK').run();
    expect(cache.check()).toEqual([]);
    expect(cache.has('big')).toBe(false);
  });

  it('a timeout too large for SQLite (or Infinity) still waits instead of never waiting', async () => {
    for (const timeout of [Number.POSITIVE_INFINITY, 1e10]) {
      const cache = openCache({ timeout });
      const child = forkFixture('cache-hold-lock.ts', [cache.directory, '300']);
      await message(child, (m) => m === 'locked');
      await sent(child, 'release'); // the child commits 300 ms after it reads this
      expect(cache.set('k', timeout)).toBe(true); // waited for the child's commit
      expect(await exited(child)).toBe(0);
    }
  });

  it('after async writes (which wait without blocking), a sync write waits for the lock again', async () => {
    const cache = openCache({ timeout: 30 });
    await cache.async.set('a', 1); // runs with no busy timeout, then gives it back
    await cache.async.set('b', 2);
    const child = forkFixture('cache-hold-lock.ts', [cache.directory, '300']);
    await message(child, (m) => m === 'locked');
    await sent(child, 'release'); // the child commits 300 ms after it reads this
    expect(cache.set('k', 'waited')).toBe(true); // a busy timeout of 0 would throw Timeout here
    expect(await exited(child)).toBe(0);
    expect(cache.get('k')).toBe('waited');
  });

  it('retry: true waits until the other process releases the lock', async () => {
    const cache = openCache({ timeout: 0.05 });
    const child = forkFixture('cache-hold-lock.ts', [cache.directory, '300']);
    await message(child, (m) => m === 'locked');
    expect(() => cache.set('k', 'no retry')).toThrow(Timeout); // the child holds on until told
    await sent(child, 'release'); // the child commits 300 ms after it reads this
    expect(cache.set('k', 'with retry', { retry: true })).toBe(true);
    expect(cache.incr('n', 1, { retry: true })).toBe(1);
    expect(await exited(child)).toBe(0);
    expect(cache.get('k')).toBe('with retry');
  });
});
