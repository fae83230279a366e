// Group commit of the `.async` views: single-entry writes issued in one tick are committed in one
// transaction; each promise settles after that commit; a failing call rejects alone.
import { describe, expect, it, vi } from 'vitest';
import { Cache, Deque, Index, Timeout } from '../../src/index.js';
import { exited, forkFixture, message, sent } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

describe('group commit of .async writes', () => {
  it('100 concurrent deque.async.append: one transaction, every item visible when the first settles', async () => {
    const directory = tempDir('group');
    const deque = new Deque<number>(directory);
    const observer = new Deque<number>(directory); // another connection
    const commit = vi.spyOn(deque.cache, 'groupCommit');
    const seenAtFirst: number[] = [];
    const appends = Array.from({ length: 100 }, (_, i) =>
      deque.async.append(i).then(() => {
        if (seenAtFirst.length === 0) seenAtFirst.push(observer.length);
      }),
    );
    await Promise.all(appends);
    expect(commit).toHaveBeenCalledTimes(1);
    expect(seenAtFirst).toEqual([100]);
    expect([...observer]).toEqual(Array.from({ length: 100 }, (_, i) => i));
    deque.close();
    observer.close();
  });

  it('a failing call rejects alone; the others commit', async () => {
    const cache = new Cache(tempDir('group'));
    cache.set('text', 'not a number');
    const results = await Promise.allSettled([
      cache.async.set('a', 1),
      cache.async.set('f', (() => 1) as never), // TypeError before any write
      cache.async.incr('text'), // TypeError inside the transaction
      cache.async.set('big', Buffer.alloc(100_000, 7)), // a value file
      cache.async.delete('text'),
      cache.async.pop('a'),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
    expect((results[5] as PromiseFulfilledResult<unknown>).value).toBe(1);
    expect(cache.get('text')).toBe(undefined);
    expect(cache.get<Buffer>('big')?.length).toBe(100_000);
    expect(cache.check()).toEqual([]);
    cache.close();
  });

  it('Index writes in one tick are grouped too', async () => {
    const directory = tempDir('group');
    const index = new Index<string, number>(directory);
    const commit = vi.spyOn(index.cache, 'groupCommit');
    await Promise.all(Array.from({ length: 20 }, (_, i) => index.async.set(`k${i}`, i)));
    expect(commit).toHaveBeenCalledTimes(1);
    expect(index.size).toBe(20);
    index.close();
  });

  it('when the lock cannot be had within timeout, every call of the group rejects with Timeout and nothing is written', async () => {
    const directory = tempDir('group');
    const cache = new Cache(directory, { timeout: 0.3 });
    const child = forkFixture('cache-hold-lock.ts', [directory, '100']);
    await message(child, (m) => m === 'locked');
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => cache.async.set(`k${i}`, i)),
    );
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(Timeout);
    }
    await sent(child, 'release');
    await exited(child);
    expect(cache.size).toBe(0);
    // The next group commits once the lock is free.
    await Promise.all(Array.from({ length: 5 }, (_, i) => cache.async.set(`k${i}`, i)));
    expect(cache.size).toBe(5);
    cache.close();
  }, 30_000);
});
