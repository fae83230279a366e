// Index in one process: the Map interface and its insertion order, diskcache's extras (setDefault,
// pop, popItem, peekItem, push/pull, memoize, transact), keys compared by value, lifecycle and
// bad input. Each test opens a real directory.
import { afterEach, describe, expect, it } from 'vitest';
import type { Key } from '../../src/index.js';
import { Cache, Index, KeyError } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

const open: { close(): void }[] = [];
afterEach(() => {
  for (const item of open.splice(0)) item.close();
});

function index<K extends Key = string, V = unknown>(
  entries?: Iterable<readonly [K, V]>,
  directory = tempDir('index'),
): Index<K, V> {
  const created = new Index<K, V>(directory, entries);
  open.push(created);
  return created;
}

describe('Index as a Map', () => {
  it('get, set (chainable), has, delete, size, clear', () => {
    const ix = index<string, number>();
    expect(ix.set('a', 1).set('b', 2)).toBe(ix);
    expect([ix.get('a'), ix.get('b'), ix.get('c')]).toEqual([1, 2, undefined]);
    expect([ix.has('a'), ix.has('c')]).toEqual([true, false]);
    expect(ix.size).toBe(2);
    expect(ix.delete('a')).toBe(true);
    expect(ix.delete('a')).toBe(false);
    expect(ix.size).toBe(1);
    ix.clear();
    expect(ix.size).toBe(0);
    expect([...ix]).toEqual([]);
  });

  it('keeps insertion order: an overwrite keeps the position, delete and re-add moves to the end', () => {
    const ix = index<string, number>();
    const map = new Map<string, number>();
    for (const target of [ix, map] as Map<string, number>[]) {
      target.set('a', 1).set('b', 2).set('c', 3);
      target.set('a', 10);
      target.delete('b');
      target.set('b', 20);
    }
    expect([...ix]).toEqual([...map]);
    expect([...ix.keys()]).toEqual(['a', 'c', 'b']);
    expect([...ix.values()]).toEqual([10, 3, 20]);
    expect([...ix.entries()]).toEqual([
      ['a', 10],
      ['c', 3],
      ['b', 20],
    ]);
  });

  it('forEach passes value, key and the index, with thisArg', () => {
    const ix = index<string, number>([
      ['x', 1],
      ['y', 2],
    ]);
    const calls: unknown[] = [];
    const context = { tag: 'ctx' };
    ix.forEach(function (this: unknown, value, key, map) {
      calls.push([value, key, map === ix, this]);
    }, context);
    expect(calls).toEqual([
      [1, 'x', true, context],
      [2, 'y', true, context],
    ]);
    expect(() => ix.forEach(5 as never)).toThrow(
      /Index\.forEach\(callback\): callback must be a function, got 5/,
    );
  });

  it('is usable where a Map is expected', () => {
    const ix = index<string, number>([['k', 1]]);
    const asMap: Map<string, number> = ix;
    expect(new Map(asMap)).toEqual(new Map([['k', 1]]));
    expect(Object.fromEntries(ix)).toEqual({ k: 1 });
    expect(Object.prototype.toString.call(ix)).toBe('[object Index]');
    const iterator = ix.entries();
    expect(iterator[Symbol.iterator]()).toBe(iterator);
  });

  it('compares keys by value, keeps number and string keys apart, and round-trips values', () => {
    const ix = index<Key, unknown>();
    ix.set(1, 'number')
      .set('1', 'string')
      .set(Buffer.from('ab'), 'bytes')
      .set(['a', { b: 1, c: 2 }], 'structured');
    expect(ix.get(1)).toBe('number');
    expect(ix.get('1')).toBe('string');
    expect(ix.get(Buffer.from('ab'))).toBe('bytes');
    expect(ix.get(['a', { c: 2, b: 1 }])).toBe('structured');
    expect(ix.size).toBe(4);
    ix.set(5n, 'bigint');
    expect(ix.get(5)).toBe('bigint'); // a bigint within 64 bits is an SQLite integer, like 5
    const value = { when: new Date(0), set: new Set([1]), n: 2n ** 80n };
    ix.set('v', value);
    expect(ix.get('v')).toEqual(value);
    expect(ix.get('v')).not.toBe(value);
  });

  it('rejects undefined values and invalid keys', () => {
    const ix = index<Key, unknown>();
    expect(() => ix.set('k', undefined)).toThrow(TypeError);
    expect(() => ix.set(Number.NaN, 1)).toThrow(TypeError);
    expect(() => ix.set((() => 1) as never, 1)).toThrow(TypeError);
    expect(ix.size).toBe(0);
  });
});

describe('Index construction', () => {
  it('takes initial entries and keeps them for the next opener', () => {
    const directory = tempDir('index');
    index(
      [
        ['a', 1],
        ['b', 2],
      ],
      directory,
    ).close();
    const again = index<string, number>(undefined, directory);
    expect([...again]).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(again.directory).toBe(directory);
    expect(again.cache.reset('eviction_policy')).toBe('none');
  });

  it('rejects entries that are not [key, value] pairs, setting none of them', () => {
    const directory = tempDir('index');
    expect(() => new Index(directory, 5 as never)).toThrow(
      /Index entries must be an iterable of \[key, value\] pairs, got 5/,
    );
    expect(() => new Index(directory, [['a', 1], 'b'] as never)).toThrow(
      /must be \[key, value\] pairs, got "b"/,
    );
    expect(index(undefined, directory).size).toBe(0);
  });

  it('fromCache uses the given cache and leaves it open on close; no directory opens a temporary one', () => {
    const cache = new Cache(tempDir('index'));
    open.push(cache);
    cache.set('pre', 1);
    const ix = Index.fromCache<string, number>(cache);
    expect(ix.get('pre')).toBe(1);
    ix.close();
    expect(cache.get('pre')).toBe(1);
    expect(() => Index.fromCache('dir' as never)).toThrow(
      /Index\.fromCache\(cache\): cache must be a Cache, got "dir"/,
    );
    const temporary = new Index();
    open.push(temporary);
    expect(temporary.directory).toMatch(/diskcache-/);
  });

  it('close and dispose close the cache it opened', () => {
    const ix = new Index(tempDir('index'));
    ix.close();
    expect(() => ix.get('a')).toThrow();
    let escaped: Index | undefined;
    {
      using disposed = new Index(tempDir('index'));
      escaped = disposed;
    }
    expect(() => escaped?.size).toThrow();
  });
});

describe('Index extras', () => {
  it('setDefault returns the existing value or sets and returns the given one', () => {
    const ix = index<string, number>([['a', 1]]);
    expect(ix.setDefault('a', 5)).toBe(1);
    expect(ix.setDefault('b', 5)).toBe(5);
    expect([...ix]).toEqual([
      ['a', 1],
      ['b', 5],
    ]);
  });

  it('pop returns and removes; a missing key returns the default or throws KeyError', () => {
    const ix = index<string, number | null>([['a', 1]]);
    expect(ix.pop('a')).toBe(1);
    expect(ix.has('a')).toBe(false);
    expect(ix.pop('a', null)).toBeNull();
    expect(ix.pop('a', undefined)).toBeUndefined(); // an explicit undefined default counts
    expect(() => ix.pop('a')).toThrow(KeyError);
    expect(() => ix.pop('a')).toThrow('key not found: "a"');
  });

  it('popItem removes the last (LIFO) or the first (FIFO) entry; KeyError when empty', () => {
    const ix = index<string, number>([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(ix.popItem()).toEqual(['c', 3]);
    expect(ix.popItem({ last: false })).toEqual(['a', 1]);
    expect(ix.popItem({ last: true })).toEqual(['b', 2]);
    expect(() => ix.popItem()).toThrow(KeyError);
    expect(() => ix.popItem()).toThrow('Index.popItem(): the index is empty');
  });

  it('peekItem shows the last or first entry without removing it; undefined when empty', () => {
    const ix = index<string, number>([
      ['a', 1],
      ['b', 2],
    ]);
    expect(ix.peekItem()).toEqual(['b', 2]);
    expect(ix.peekItem({ last: false })).toEqual(['a', 1]);
    expect(ix.size).toBe(2);
    ix.clear();
    expect(ix.peekItem()).toBeUndefined();
  });

  it('push and pull keep a queue inside the index, with prefixes and both ends', () => {
    const ix = index<Key, string>();
    expect(ix.push('one')).toBe(500000000000000);
    expect(ix.push('two')).toBe(500000000000001);
    expect(ix.push('zero', { side: 'front' })).toBe(499999999999999);
    expect(ix.push('job', { prefix: 'jobs' })).toBe('jobs-500000000000000');
    expect(ix.pull()).toEqual([499999999999999, 'zero']);
    expect(ix.pull({ side: 'back' })).toEqual([500000000000001, 'two']);
    expect(ix.pull({ prefix: 'jobs' })).toEqual(['jobs-500000000000000', 'job']);
    expect(ix.pull({ prefix: 'jobs' })).toBeUndefined();
    expect([...ix.keys()]).toEqual([500000000000000]);
  });

  it('memoize keeps results in the index; memoize(fn) is a TypeError', () => {
    const ix = index<Key, number>();
    let calls = 0;
    const square = ix.memoize()(function square(n: number) {
      calls++;
      return n * n;
    });
    expect([square(3), square(3), square(4)]).toEqual([9, 9, 16]);
    expect(calls).toBe(2);
    expect(ix.size).toBe(2);
    expect(() => ix.memoize((() => 1) as never)).toThrow(/memoize takes options, not the function/);
  });

  it('transact groups operations atomically and rolls back on error', () => {
    const ix = index<string, number>([['n', 1]]);
    const next = ix.transact(() => {
      const value = (ix.get('n') ?? 0) + 1;
      ix.set('n', value);
      return value;
    });
    expect(next).toBe(2);
    expect(() =>
      ix.transact(() => {
        ix.set('n', 100).set('m', 1);
        throw new Error('undo');
      }),
    ).toThrow('undo');
    expect([...ix]).toEqual([['n', 2]]);
  });
});
