/**
 * The read-modify-write operations of one process: touch, add, incr and decr (their
 * cross-process atomicity is in multiprocess.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { KeyError } from '../../src/index.js';
import { filesUnder, openCache, rawDb, storedRows } from '../fixtures/cache-test-kit.js';

describe('touch', () => {
  it('sets, changes and removes the expiry of a live key only', () => {
    const cache = openCache({ cullLimit: 0 });
    expect(cache.touch('missing', { expire: 10 })).toBe(false);
    cache.set('k', 'v', { tag: 't' });
    expect(cache.touch('k', { expire: 100 })).toBe(true);
    const entry = cache.getEntry('k');
    expect(entry?.expireTime).toBeGreaterThan(Date.now() / 1000 + 99);
    expect(entry?.tag).toBe('t'); // tag untouched
    expect(cache.touch('k')).toBe(true);
    expect(cache.getEntry('k')?.expireTime).toBeNull();
    expect(cache.touch('k', { expire: 0 })).toBe(true);
    expect(cache.has('k')).toBe(false); // expire 0: expired at once
    expect(cache.touch('k', { expire: 100 })).toBe(false); // expired keys are not revived
    expect(cache.size).toBe(1);
  });
});

describe('add', () => {
  it('stores only when the key is absent', () => {
    const cache = openCache();
    expect(cache.add('k', 1, { tag: 'first' })).toBe(true);
    expect(cache.add('k', 2, { tag: 'second' })).toBe(false);
    expect(cache.getEntry('k')).toMatchObject({ value: 1, tag: 'first' });
  });

  it('overwrites an expired entry in place (insertion position kept)', () => {
    const cache = openCache({ cullLimit: 0 });
    cache.set('a', 'old', { expire: -1 });
    cache.set('b', 'b');
    expect(cache.add('a', 'new', { expire: 100 })).toBe(true);
    expect(cache.get('a')).toBe('new');
    expect([...cache.keys()]).toEqual(['a', 'b']);
    expect(cache.size).toBe(2);
  });

  it('with a file-backed value: the loser leaves no file, the winner replaces an expired file', () => {
    const cache = openCache({ minFileSize: 100, cullLimit: 0 });
    const big = (c: string) => c.repeat(500);
    expect(cache.add('k', big('a'))).toBe(true);
    expect(cache.add('k', big('b'))).toBe(false);
    expect(filesUnder(cache.directory)).toHaveLength(1);
    expect(cache.get('k')).toBe(big('a'));
    cache.set('old', big('c'), { expire: -1 });
    expect(cache.add('old', big('d'))).toBe(true);
    expect(cache.get('old')).toBe(big('d'));
    expect(filesUnder(cache.directory)).toHaveLength(2);
    // An inline add over an expired file-backed entry also removes its file.
    cache.touch('old', { expire: 0 });
    expect(cache.add('old', 'small')).toBe(true);
    expect(filesUnder(cache.directory)).toHaveLength(1);
    expect(cache.check()).toEqual([]);
  });
});

describe('incr and decr', () => {
  it('start a missing key from default (0) and add delta', () => {
    const cache = openCache();
    expect(cache.incr('n')).toBe(1);
    expect(cache.incr('n')).toBe(2);
    expect(cache.incr('n', 10)).toBe(12);
    expect(cache.decr('n', 20)).toBe(-8);
    expect(cache.decr('n')).toBe(-9);
    expect(cache.incr('m', 5, { default: 100 })).toBe(105);
    expect(cache.decr('d', 1, { default: 0 })).toBe(-1);
    // An explicit undefined is the default (0), not null.
    expect(cache.incr('u', 3, { default: undefined })).toBe(3);
    expect(cache.get('n')).toBe(-9);
    // Stored as an INTEGER, as Python's incr does.
    expect(storedRows(cache.directory).map((row) => [row.key, row.valueType])).toEqual([
      ['n', 'integer'],
      ['m', 'integer'],
      ['d', 'integer'],
      ['u', 'integer'],
    ]);
  });

  it('work on a value stored by set', () => {
    const cache = openCache();
    cache.set('n', 41);
    expect(cache.incr('n')).toBe(42);
    cache.set('f', 0.5);
    expect(cache.incr('f')).toBe(1.5);
  });

  it('keep the tag and expiry of a live key', () => {
    const cache = openCache();
    cache.set('n', 1, { tag: 'counter', expire: 100 });
    const before = cache.getEntry('n')!;
    expect(cache.incr('n')).toBe(2);
    expect(cache.getEntry('n')).toEqual({ ...before, value: 2 });
  });

  it('restart an expired key from default, clearing its tag and expiry', () => {
    const cache = openCache({ cullLimit: 0 });
    cache.set('n', 50, { tag: 'old', expire: -1 });
    expect(cache.incr('n', 2)).toBe(2);
    expect(cache.getEntry('n')).toEqual({ key: 'n', value: 2, expireTime: null, tag: null });
    expect(cache.size).toBe(1);
  });

  it('default: null throws KeyError for a missing or expired key and stores nothing', () => {
    const cache = openCache({ cullLimit: 0 });
    expect(() => cache.incr('missing', 1, { default: null })).toThrow(KeyError);
    expect(cache.has('missing')).toBe(false);
    cache.set('old', 5, { expire: -1 });
    const error = (() => {
      try {
        cache.decr('old', 1, { default: null });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(KeyError);
    expect((error as KeyError).key).toBe('old');
    expect(cache.size).toBe(1);
    cache.set('live', 5);
    expect(cache.incr('live', 1, { default: null })).toBe(6);
  });

  it('float deltas and defaults', () => {
    const cache = openCache();
    expect(cache.incr('x', 1.5)).toBe(1.5);
    expect(cache.incr('x', 1.25)).toBe(2.75);
    expect(cache.decr('x', 0.75)).toBe(2);
    expect(cache.incr('y', 1, { default: 0.5 })).toBe(1.5);
  });

  it('stay exact beyond 2**53 (returning bigints) and within int64', () => {
    const cache = openCache();
    cache.set('n', Number.MAX_SAFE_INTEGER);
    expect(cache.incr('n')).toBe(2n ** 53n);
    expect(cache.incr('n')).toBe(2n ** 53n + 1n);
    expect(cache.get('n')).toBe(2n ** 53n + 1n);
    expect(cache.decr('n', 2)).toBe(Number.MAX_SAFE_INTEGER);
    expect(cache.incr('b', 2n ** 62n)).toBe(2n ** 62n);
    expect(cache.incr('b', 2n ** 62n - 1n)).toBe(2n ** 63n - 1n);
    expect(() => cache.incr('b')).toThrow(RangeError);
    expect(cache.get('b')).toBe(2n ** 63n - 1n); // unchanged: the transaction rolled back
    expect(cache.incr('neg', -(2n ** 63n))).toBe(-(2n ** 63n));
    expect(() => cache.decr('neg')).toThrow(RangeError);
  });

  it('refuse a value that is not a number, and a bad delta', () => {
    const cache = openCache();
    cache.set('s', 'text');
    cache.set('o', { n: 1 });
    expect(() => cache.incr('s')).toThrow(TypeError);
    expect(() => cache.incr('o')).toThrow(TypeError);
    expect(cache.get('s')).toBe('text');
    expect(() => cache.incr('n', Number.NaN)).toThrow(TypeError);
    expect(() => cache.incr('n', '1' as never)).toThrow(/delta/);
    expect(() => cache.incr('n', Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => cache.incr('n', 1, { default: '0' as never })).toThrow(/default/);
    expect(cache.has('n')).toBe(false);
  });

  it('are not counted as hits or misses', () => {
    const cache = openCache({ statistics: true });
    cache.incr('n');
    cache.incr('n');
    expect(cache.stats()).toEqual({ hits: 0, misses: 0 });
  });
});

describe('incr on bigint and float values', () => {
  it('a bigint value stays a bigint, keeping its expiry and tag', () => {
    const cache = openCache();
    cache.set('n', 5n, { expire: 100, tag: 't' });
    expect(cache.incr('n')).toBe(6n);
    expect(cache.decr('n', 10n)).toBe(-4n);
    const entry = cache.getEntry('n');
    expect(entry?.value).toBe(-4n);
    expect(entry?.tag).toBe('t');
    expect(entry?.expireTime).not.toBeNull();
    expect(() => cache.incr('n', 0.5)).toThrow(TypeError);
    cache.set('m', 2n ** 53n - 1n);
    expect(cache.incr('m', 2)).toBe(2n ** 53n + 1n); // beyond 2**53 it is stored as an INTEGER
    expect(cache.get('m')).toBe(2n ** 53n + 1n);
  });

  it('a REAL stays a REAL even when its value is whole', () => {
    const cache = openCache();
    cache.set('f', 5.5);
    expect(cache.incr('f', 0.5)).toBe(6);
    expect(
      rawDb(cache.directory)
        .prepare("SELECT typeof(value) AS type FROM Cache WHERE key = 'f'")
        .get(),
    ).toEqual({ type: 'real' });
    expect(cache.incr('f')).toBe(7);
    expect(
      rawDb(cache.directory)
        .prepare("SELECT typeof(value) AS type FROM Cache WHERE key = 'f'")
        .get(),
    ).toEqual({ type: 'real' });
  });
});
