/**
 * The queue methods of Cache: push/pull/peek on integer keys and on prefixed string keys, at
 * both ends, with expired items and vanished value files; and peekItem in insertion order.
 * The key numbers are diskcache's (500000000000000 and up), pinned by its doctests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, openCache, storedRows } from '../fixtures/cache-test-kit.js';

const START = 500_000_000_000_000;

describe('push / pull / peek', () => {
  it('integer keys from 500000000000000: push back and front, pull FIFO from the front', () => {
    const cache = openCache();
    expect(cache.push('first')).toBe(START);
    expect(cache.push('second')).toBe(START + 1);
    expect(cache.push('zeroth', { side: 'front' })).toBe(START - 1);
    expect(storedRows(cache.directory).map((row) => row.keyType)).toEqual([
      'integer',
      'integer',
      'integer',
    ]);
    expect(cache.pull()).toEqual({ key: START - 1, value: 'zeroth', expireTime: null, tag: null });
    expect(cache.pull()?.value).toBe('first');
    expect(cache.pull()?.value).toBe('second');
    expect(cache.pull()).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('a front push on an empty queue also starts at 500000000000000', () => {
    const cache = openCache();
    expect(cache.push('x', { side: 'front' })).toBe(START);
  });

  it('pull from the back is LIFO; peek leaves the item', () => {
    const cache = openCache();
    for (const value of ['a', 'b', 'c']) cache.push(value);
    expect(cache.peek({ side: 'back' })?.value).toBe('c');
    expect(cache.peek()?.value).toBe('a');
    expect(cache.size).toBe(3);
    expect(cache.pull({ side: 'back' })?.value).toBe('c');
    expect(cache.pull({ side: 'back' })?.value).toBe('b');
    expect(cache.push('d')).toBe(START + 1); // the back end is now 'a'
  });

  it('prefixed queues are independent string keys', () => {
    const cache = openCache();
    expect(cache.push(1, { prefix: 'jobs' })).toBe('jobs-500000000000000');
    expect(cache.push(2, { prefix: 'jobs' })).toBe('jobs-500000000000001');
    expect(cache.push(0, { prefix: 'jobs', side: 'front' })).toBe('jobs-499999999999999');
    expect(cache.push('m', { prefix: 'mail' })).toBe('mail-500000000000000');
    expect(cache.push('plain')).toBe(START);
    expect(cache.pull({ prefix: 'jobs' })?.value).toBe(0);
    expect(cache.pull({ prefix: 'mail' })).toMatchObject({
      key: 'mail-500000000000000',
      value: 'm',
    });
    expect(cache.pull({ prefix: 'mail' })).toBeUndefined();
    expect(cache.pull({ prefix: 'jobs', side: 'back' })?.value).toBe(2);
    expect(cache.pull()?.value).toBe('plain');
    expect(cache.get('jobs-500000000000000')).toBe(1);
  });

  it('entries carry expiry time and tag', () => {
    const cache = openCache();
    cache.push('v', { expire: 100, tag: 'queue' });
    const peeked = cache.peek();
    expect(peeked).toMatchObject({ key: START, value: 'v', tag: 'queue' });
    expect(peeked?.expireTime).toBeGreaterThan(Date.now() / 1000 + 99);
    expect(cache.pull()).toEqual(peeked);
  });

  it('expired items are skipped and removed by pull and peek', () => {
    const cache = openCache({ cullLimit: 0 });
    cache.push('expired 0', { expire: -1 });
    cache.push('expired 1', { expire: -1 });
    cache.push('live 2');
    cache.push('expired 3', { expire: -1 });
    cache.push('live 4');
    cache.push('expired 5', { expire: -1 });
    expect(cache.peek()).toMatchObject({ key: START + 2, value: 'live 2' });
    expect(cache.size).toBe(4); // peek removed the two expired ones at the front
    expect(cache.pull({ side: 'back' })).toMatchObject({ key: START + 4, value: 'live 4' });
    expect(cache.size).toBe(2);
    expect(cache.pull()).toMatchObject({ key: START + 2 });
    expect(cache.pull()).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('file-backed values: peek keeps the file, pull removes it', () => {
    const cache = openCache({ minFileSize: 100 });
    const big = Buffer.alloc(1000, 9);
    cache.push(big, { prefix: 'blobs' });
    expect(cache.peek({ prefix: 'blobs' })?.value).toEqual(big);
    expect(cache.peek({ prefix: 'blobs' })?.value).toEqual(big);
    expect(filesUnder(cache.directory)).toHaveLength(1);
    expect(cache.pull({ prefix: 'blobs' })?.value).toEqual(big);
    expect(filesUnder(cache.directory)).toEqual([]);
  });

  it('an item whose value file vanished is dropped and the next one returned', () => {
    const cache = openCache({ minFileSize: 100 });
    cache.push('a'.repeat(200));
    cache.push('b'.repeat(200));
    cache.push('c'.repeat(200));
    const [first, second] = storedRows(cache.directory);
    fs.rmSync(path.join(cache.directory, first!.filename!));
    expect(cache.peek()?.value).toBe('b'.repeat(200));
    expect(cache.size).toBe(2);
    fs.rmSync(path.join(cache.directory, second!.filename!));
    expect(cache.pull()?.value).toBe('c'.repeat(200));
    expect(cache.size).toBe(0);
    expect(cache.check()).toEqual([]);
  });

  it('numeric user keys in the queue range are part of the queue, as in diskcache', () => {
    const cache = openCache();
    cache.set(1, 'one');
    cache.set(2.5, 'two and a half');
    cache.set('text', 'not in the integer queue');
    expect(cache.push('q')).toBe(3.5);
    expect(cache.pull()).toMatchObject({ key: 1, value: 'one' });
  });

  it('reject a bad side or prefix', () => {
    const cache = openCache();
    expect(() => cache.push(1, { side: 'middle' as never })).toThrow(/side.*middle/);
    expect(() => cache.pull({ side: 'left' as never })).toThrow(TypeError);
    expect(() => cache.push(1, { prefix: 5 as never })).toThrow(/prefix/);
    expect(() => cache.push(undefined)).toThrow(TypeError);
    expect(cache.size).toBe(0);
  });
});

describe('peekItem', () => {
  it('returns the last or first inserted entry without removing it', () => {
    const cache = openCache();
    expect(cache.peekItem()).toBeUndefined();
    cache.set({ id: 1 }, 'first', { tag: 't' });
    cache.set('b', 'second');
    cache.set('c', 'third', { expire: 100 });
    cache.set('b', 'second again'); // an update keeps its place
    expect(cache.peekItem()).toMatchObject({ key: 'c', value: 'third', tag: null });
    expect(cache.peekItem({ last: false })).toEqual({
      key: { id: 1 },
      value: 'first',
      expireTime: null,
      tag: 't',
    });
    expect(cache.size).toBe(3);
  });

  it('removes and skips expired entries at that end', () => {
    const cache = openCache({ cullLimit: 0 });
    cache.set('old0', 0, { expire: -1 });
    cache.set('a', 1);
    cache.set('mid', 2, { expire: -1 });
    cache.set('b', 3);
    cache.set('old1', 4, { expire: -1 });
    cache.set('old2', 5, { expire: -1 });
    expect(cache.peekItem()?.key).toBe('b');
    expect(cache.peekItem({ last: false })?.key).toBe('a');
    expect([...cache.keys()]).toEqual(['a', 'mid', 'b']);
    cache.delete('a');
    cache.delete('b');
    expect(cache.peekItem()).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
