/**
 * Expiry, culling and eviction: how expired entries behave until they are removed, expire(),
 * cull-on-write and cull() under the four eviction policies with a small sizeLimit (asserting
 * which keys go), tags with evict() and the tag index, and clear().
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Cache, ClosedError, type EvictionPolicy } from '../../src/index.js';
import {
  dirsUnder,
  filesUnder,
  nextMillisecond,
  openCache,
  rawDb,
  sleep,
} from '../fixtures/cache-test-kit.js';

describe('expired entries', () => {
  it('expire after the given seconds (real clock)', async () => {
    const cache = openCache();
    const before = Date.now();
    cache.set('k', 'v', { expire: 1 });
    expect(cache.get('k')).toBe('v'); // a second of slack for a loaded machine
    // Poll instead of sleeping a fixed time: gone no earlier than a second after the set.
    const deadline = before + 30_000;
    while (cache.get('k') !== undefined && Date.now() < deadline) await sleep(50);
    expect(Date.now() - before).toBeGreaterThanOrEqual(1000);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.get('k', { default: 'gone' })).toBe('gone');
  });

  it('are absent for get/has/getEntry/delete/pop/touch/read but still counted and iterated', () => {
    const cache = openCache({ statistics: true, cullLimit: 0 });
    cache.set('old', 'v', { expire: -1 });
    cache.set('live', 'v');
    expect(cache.get('old')).toBeUndefined();
    expect(cache.getEntry('old')).toBeUndefined();
    expect(cache.has('old')).toBe(false);
    expect(cache.delete('old')).toBe(false);
    expect(cache.pop('old', { default: 'd' })).toBe('d');
    expect(cache.touch('old', { expire: 100 })).toBe(false);
    expect(cache.stats().misses).toBe(2);
    // Not removed by any of these: diskcache removes expired rows only when culling.
    expect(cache.size).toBe(2);
    expect([...cache.keys()]).toEqual(['old', 'live']);
    expect([...cache.iterKeys()]).toEqual(['live', 'old']);
    expect([...cache.entries()]).toEqual([['live', 'v']]);
  });

  it('are misses on the transactional get path too (LRU policy)', () => {
    const cache = openCache({ evictionPolicy: 'least-recently-used' });
    cache.set('old', 'v', { expire: -1 });
    expect(cache.get('old', { default: 'miss' })).toBe('miss');
  });

  it('expire() removes those expired before now and returns how many', () => {
    const cache = openCache({ minFileSize: 10, cullLimit: 0 });
    const now = Date.now() / 1000;
    cache.set('soon', 'a'.repeat(20), { expire: 10 });
    cache.set('later', 'b', { expire: 100 });
    cache.set('never', 'c');
    cache.set('past', 'd', { expire: -5 });
    expect(cache.expire()).toBe(1);
    expect(cache.expire(now + 50)).toBe(1);
    expect(filesUnder(cache.directory)).toEqual([]);
    expect(cache.has('later')).toBe(true);
    expect(cache.expire(now + 1000)).toBe(1);
    expect([...cache.keys()]).toEqual(['never']);
    expect(cache.expire()).toBe(0);
  });

  it('expire() removes more than a batch, even with one shared expiry time', () => {
    const cache = openCache({ cullLimit: 0 });
    cache.transact(() => {
      for (let i = 0; i < 250; i++) cache.set(i, i, { expire: -1 });
    });
    cache.set('keep', 1);
    expect(cache.size).toBe(251);
    expect(cache.expire(Date.now() / 1000 + 1)).toBe(250);
    expect(cache.size).toBe(1);
  });

  it('each write culls up to cullLimit expired entries', () => {
    const cache = openCache({ cullLimit: 0 });
    for (let i = 0; i < 25; i++) cache.set(`old${i}`, i, { expire: -1 });
    expect(cache.size).toBe(25);
    cache.reset('cullLimit', 10);
    cache.set('new', 1);
    expect(cache.size).toBe(16);
    cache.set('new2', 2);
    expect(cache.size).toBe(7);
    cache.add('new3', 3);
    expect(cache.size).toBe(3);
    expect([...cache.keys()]).toEqual(['new', 'new2', 'new3']);
  });

  it('with cullLimit 0 writes never cull', () => {
    const cache = openCache({ cullLimit: 0, sizeLimit: 0 });
    for (let i = 0; i < 20; i++) cache.set(i, 'v', { expire: -1 });
    expect(cache.size).toBe(20);
  });
});

describe('eviction policies with a small sizeLimit', () => {
  const VALUE = Buffer.alloc(20_000, 1);
  const KEYS = Array.from({ length: 30 }, (_, i) => i);

  /** 30 file-backed values with distinct store times; no culling while filling. */
  function filled(policy: EvictionPolicy): Cache {
    const cache = openCache({ evictionPolicy: policy, minFileSize: 1000, cullLimit: 0 });
    for (const key of KEYS) {
      cache.set(key, VALUE);
      nextMillisecond();
    }
    return cache;
  }

  /** Sets sizeLimit so that cull() (10 rows per step while over the limit) keeps exactly 10 entries. */
  function limitToTen(cache: Cache): void {
    const withoutFiles = cache.volume() - KEYS.length * VALUE.length;
    cache.reset('sizeLimit', withoutFiles + 15 * VALUE.length);
  }

  function remaining(cache: Cache): number[] {
    return [...cache.keys()]
      .filter((key): key is number => typeof key === 'number')
      .sort((a, b) => a - b);
  }

  it('least-recently-stored keeps the most recently stored', () => {
    const cache = filled('least-recently-stored');
    for (const key of [0, 1, 2, 3, 4]) {
      cache.get(key); // reads do not count for LRS
      nextMillisecond();
    }
    for (const key of [7, 8]) {
      cache.set(key, VALUE); // re-storing does
      nextMillisecond();
    }
    limitToTen(cache);
    expect(cache.cull()).toBe(20);
    expect(remaining(cache)).toEqual([7, 8, 22, 23, 24, 25, 26, 27, 28, 29]);
    expect(filesUnder(cache.directory)).toHaveLength(10);
    expect(cache.check()).toEqual([]);
  });

  it('least-recently-used keeps the most recently read (incr counts as a use)', () => {
    const cache = filled('least-recently-used');
    cache.reset('minFileSize', 1_000_000);
    cache.set('n', 1); // inline, so that it weighs nothing
    nextMillisecond();
    for (const key of [3, 1, 4, 15, 9, 26, 5, 13, 2]) {
      expect(cache.get(key)).toEqual(VALUE);
      nextMillisecond();
    }
    cache.incr('n');
    limitToTen(cache);
    // The 20 least recently used go; of the unread keys only the last stored (29) stays.
    expect(cache.cull()).toBe(20);
    expect(remaining(cache)).toEqual([1, 2, 3, 4, 5, 9, 13, 15, 26, 29]);
    expect(cache.get('n')).toBe(2);
  });

  it('least-frequently-used keeps the most often read', () => {
    const cache = filled('least-frequently-used');
    for (const key of [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]) {
      cache.get(key);
      cache.get(key);
      cache.getEntry(key);
    }
    for (const key of [0, 1, 2]) cache.get(key);
    limitToTen(cache);
    expect(cache.cull()).toBe(20);
    expect(remaining(cache)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  it("'none' never evicts, neither on write nor in cull()", () => {
    const cache = filled('none');
    cache.reset('cullLimit', 10);
    limitToTen(cache);
    cache.set('more', VALUE);
    expect(cache.size).toBe(31);
    cache.reset('cullLimit', 0);
    cache.set('old', 1, { expire: -1 });
    expect(cache.size).toBe(32);
    // cull() still removes expired entries.
    expect(cache.cull()).toBe(1);
    expect(cache.size).toBe(31);
  });

  it('a write over the limit culls at most cullLimit entries in policy order', () => {
    const cache = filled('least-recently-stored');
    limitToTen(cache);
    cache.reset('cullLimit', 3);
    cache.set('new', VALUE);
    expect(cache.size).toBe(28);
    expect(cache.has(0) || cache.has(1) || cache.has(2)).toBe(false);
    expect(cache.has(3)).toBe(true);
    expect(cache.has('new')).toBe(true);
    expect(filesUnder(cache.directory)).toHaveLength(28);
    // The limit is soft: writes keep culling cullLimit at a time until under it.
    for (let i = 0; i < 10; i++) cache.set(`more${i}`, 'small');
    expect(cache.volume()).toBeLessThan(Number(cache.settings.size_limit));
  });

  it('cull() with sizeLimit 0 removes everything and stops', () => {
    const cache = filled('least-recently-stored');
    cache.reset('sizeLimit', 0);
    expect(cache.cull()).toBe(30);
    expect(cache.size).toBe(0);
    expect(filesUnder(cache.directory)).toEqual([]);
    expect(cache.cull()).toBe(0);
  });

  it('cull() with inline values shrinks the database pages', () => {
    const cache = openCache({ cullLimit: 0 });
    const text = 'x'.repeat(2000);
    cache.transact(() => {
      for (let i = 0; i < 300; i++) cache.set(i, `${i}${text}`);
    });
    const full = cache.volume();
    cache.reset('sizeLimit', Math.floor(full / 3));
    const removed = cache.cull();
    expect(removed).toBeGreaterThan(150);
    expect(cache.volume()).toBeLessThanOrEqual(Math.floor(full / 3));
    // The oldest went first.
    expect(cache.has(0)).toBe(false);
    expect(cache.has(299)).toBe(true);
  });
});

describe('tags', () => {
  it('tagCounts() counts live entries by tag (untagged under null), reading no value', async () => {
    const cache = openCache();
    expect(cache.tagCounts()).toEqual(new Map());
    cache.set('a', 'x'.repeat(100_000), { tag: 'big' }); // a value file
    cache.set('b', 1, { tag: 'small' });
    cache.set('c', 2, { tag: 'small' });
    cache.set('d', 3, { tag: 7 });
    cache.set('e', 4);
    cache.set('f', 5, { tag: 'small', expire: 0.05 });
    await sleep(100);
    expect(cache.tagCounts()).toEqual(
      new Map<unknown, number>([
        [null, 1],
        [7, 1],
        ['big', 1],
        ['small', 2],
      ]),
    );
    cache.set('b', 1, { tag: 7 }); // a set replaces the tag
    expect(cache.tagCounts().get('small')).toBe(1);
    expect(cache.tagCounts().get(7)).toBe(2);
    expect(() => cache.set('g', 1, { tag: Number.NaN })).toThrow(
      /tag must be a string, a number \(not NaN\)/,
    );
    cache.close();
    expect(() => cache.tagCounts()).toThrow(ClosedError);
  });

  it('round-trip tags of every SQLite type', () => {
    const cache = openCache();
    const tags = ['text', 42, 2.5, 2n ** 60n, Buffer.from([1, 2]), null];
    for (const [i, tag] of tags.entries()) cache.set(i, i, { tag });
    for (const [i, tag] of tags.entries()) expect(cache.getEntry(i)?.tag).toEqual(tag);
  });

  it('evict(tag) removes live and expired entries with that tag, files included', () => {
    const cache = openCache({ minFileSize: 10, cullLimit: 0 });
    for (let i = 0; i < 150; i++) cache.set(`a${i}`, i, { tag: 'a' });
    cache.set('a-file', 'x'.repeat(100), { tag: 'a' });
    cache.set('a-expired', 1, { tag: 'a', expire: -1 });
    cache.set('b', 1, { tag: 'b' });
    cache.set('none', 1);
    expect(cache.evict('a')).toBe(152);
    expect([...cache.keys()]).toEqual(['b', 'none']);
    expect(filesUnder(cache.directory)).toEqual([]);
    expect(dirsUnder(cache.directory)).toEqual([]);
    expect(cache.evict('a')).toBe(0);
  });

  it('evict compares with SQLite equality: tag 1 matches 1.0', () => {
    const cache = openCache();
    cache.set('x', 1, { tag: 1 });
    cache.set('y', 1, { tag: '1' });
    expect(cache.evict(1.0)).toBe(1);
    expect([...cache.keys()]).toEqual(['y']);
  });

  it('tagIndex creates the (tag, rowid) index; reset drops it', () => {
    const cache = openCache({ tagIndex: true });
    const indexes = () =>
      rawDb(cache.directory)
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'Cache_tag_rowid'")
        .pluck()
        .all();
    expect(indexes()).toEqual(['Cache_tag_rowid']);
    cache.set('k', 1, { tag: 't' });
    expect(cache.evict('t')).toBe(1);
    cache.reset('tagIndex', false);
    expect(indexes()).toEqual([]);
    expect(cache.settings.tag_index).toBe(0);
    cache.reset('tag_index', 1);
    expect(indexes()).toEqual(['Cache_tag_rowid']);
  });
});

describe('clear', () => {
  it('removes every entry and value file but keeps the directory, cache.db and foreign files', () => {
    const cache = openCache({ minFileSize: 10 });
    for (let i = 0; i < 230; i++) cache.set(i, i % 10 === 0 ? 'f'.repeat(50) : i);
    fs.writeFileSync(path.join(cache.directory, 'notes.txt'), 'mine');
    expect(cache.clear()).toBe(230);
    expect(cache.size).toBe(0);
    expect(filesUnder(cache.directory)).toEqual(['notes.txt']);
    expect(fs.existsSync(path.join(cache.directory, 'cache.db'))).toBe(true);
    expect(cache.clear()).toBe(0);
    cache.set('after', 1);
    expect(cache.get('after')).toBe(1);
  });
});

describe('set over an entry with an expiry', () => {
  it('a set without expire makes the entry permanent, and one with expire sets a new time', () => {
    const cache = openCache();
    cache.set('k', 1, { expire: 100 });
    cache.set('k', 2);
    expect(cache.getEntry('k')).toMatchObject({ value: 2, expireTime: null });
    cache.set('k', 3, { expire: 100 });
    expect(cache.getEntry('k')?.expireTime).toBeGreaterThan(Date.now() / 1000 + 50);
    cache.set('k', 3, { expire: -1 }); // already in the past: no need to wait for it
    expect(cache.get('k')).toBeUndefined();
    cache.set('k', 4);
    expect(cache.getEntry('k')).toMatchObject({ value: 4, expireTime: null });
    expect([...cache.keys()]).toEqual(['k']);
  });
});
