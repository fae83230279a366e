/**
 * Iteration: keys()/[Symbol.iterator]/entries() in insertion order (paged, bounded at creation,
 * including expired keys except for entries()), and iterKeys() in SQLite's sort order.
 */
import { describe, expect, it } from 'vitest';
import { openCache } from '../fixtures/cache-test-kit.js';

describe('keys() and [Symbol.iterator]', () => {
  it('insertion order, forwards and reversed, across pages of 100', () => {
    const cache = openCache();
    const keys = Array.from({ length: 250 }, (_, i) =>
      i % 3 === 0 ? `s${i}` : i % 3 === 1 ? i : [i, 'tuple'],
    );
    cache.transact(() => {
      for (const key of keys) cache.set(key, 1);
    });
    expect([...cache.keys()]).toEqual(keys);
    expect([...cache]).toEqual(keys);
    expect([...cache.keys({ reverse: true })]).toEqual([...keys].reverse());
  });

  it('an update keeps the position; delete and set again moves the key to the end', () => {
    const cache = openCache();
    for (const key of ['a', 'b', 'c']) cache.set(key, 1);
    cache.set('a', 2);
    expect([...cache]).toEqual(['a', 'b', 'c']);
    cache.delete('a');
    cache.set('a', 3);
    expect([...cache]).toEqual(['b', 'c', 'a']);
  });

  it('does not see entries added after the iterator was created', () => {
    const cache = openCache();
    for (let i = 0; i < 150; i++) cache.set(i, i);
    const forward = cache.keys();
    const reverse = cache.keys({ reverse: true });
    const spread = cache[Symbol.iterator]();
    cache.set('late', 1);
    expect([...forward]).toHaveLength(150);
    expect([...reverse][0]).toBe(149);
    expect([...spread]).not.toContain('late');
    // Entries added while it runs are not seen either.
    const running = cache.keys();
    expect(running.next().value).toBe(0);
    for (let i = 0; i < 120; i++) cache.set(`during${i}`, i);
    expect([...running]).toHaveLength(150); // 149 more plus 'late'
  });

  it('an iterator created on an empty cache stays empty', () => {
    const cache = openCache();
    const keys = cache.keys();
    const reversed = cache.keys({ reverse: true });
    const entries = cache.entries();
    cache.set('x', 1);
    expect([...keys]).toEqual([]);
    expect([...reversed]).toEqual([]);
    expect([...entries]).toEqual([]);
    expect([...cache.keys()]).toEqual(['x']);
  });

  it('includes expired keys; entries() skips them and reads values', () => {
    const cache = openCache({ cullLimit: 0, minFileSize: 100 });
    cache.set('a', 1);
    cache.set('old', 2, { expire: -1 });
    cache.set('big', 'x'.repeat(500));
    cache.set({ k: 1 }, new Map([[1, 2]]));
    expect([...cache.keys()]).toEqual(['a', 'old', 'big', { k: 1 }]);
    expect([...cache.entries()]).toEqual([
      ['a', 1],
      ['big', 'x'.repeat(500)],
      [{ k: 1 }, new Map([[1, 2]])],
    ]);
  });

  it('keeps going while entries are deleted under it', () => {
    const cache = openCache();
    for (let i = 0; i < 300; i++) cache.set(i, i);
    const seen: unknown[] = [];
    for (const key of cache.keys()) {
      seen.push(key);
      if (key === 50) for (let i = 100; i < 200; i++) cache.delete(i);
    }
    expect(seen).toHaveLength(200);
    expect(seen).not.toContain(150);
    expect(seen.at(-1)).toBe(299);
  });
});

describe('iterKeys()', () => {
  it('sorted: numbers (ints and floats together) < strings < bytes and structured keys', () => {
    const cache = openCache({ cullLimit: 0 });
    const keys = ['b', 10, Buffer.from([2]), 'a', 2.5, -3, Buffer.from([1]), 'B', 2n ** 60n, 'é'];
    for (const key of keys) cache.set(key, 1);
    cache.set('expired', 1, { expire: -1 });
    const sorted = [...cache.iterKeys()];
    expect(sorted).toEqual([
      -3,
      2.5,
      10,
      2n ** 60n,
      'B',
      'a',
      'b',
      'expired',
      'é',
      Buffer.from([1]),
      Buffer.from([2]),
    ]);
    expect([...cache.iterKeys({ reverse: true })]).toEqual([...sorted].reverse());
  });

  it('pages through more than 100 keys in both directions', () => {
    const cache = openCache();
    const keys = Array.from({ length: 345 }, (_, i) => 345 - i);
    cache.transact(() => {
      for (const key of keys) cache.set(key, key);
    });
    const ascending = [...keys].sort((a, b) => a - b);
    expect([...cache.iterKeys()]).toEqual(ascending);
    expect([...cache.iterKeys({ reverse: true })]).toEqual([...ascending].reverse());
  });

  it('is empty on an empty cache', () => {
    const cache = openCache();
    expect([...cache.iterKeys()]).toEqual([]);
    expect([...cache.iterKeys({ reverse: true })]).toEqual([]);
  });
});
