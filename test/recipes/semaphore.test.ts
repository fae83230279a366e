import { describe, expect, it } from 'vitest';
import { AbortError, BoundedSemaphore, Cache, NotOwnedError, Timeout } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { holdInChild, kill, startTogether } from './together.js';

describe('BoundedSemaphore', () => {
  it('hands out `value` permits and no more', () => {
    using cache = new Cache(tempDir('sem'));
    const a = new BoundedSemaphore(cache, 'pool', { value: 3 });
    const b = new BoundedSemaphore(cache, 'pool', { value: 3 });
    expect(a.available()).toBe(3);
    expect(a.tryAcquire()).toBe(true);
    expect(a.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(a.locked()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(a.available()).toBe(0);
    b.release();
    expect(b.available()).toBe(1);
    expect(() => b.release()).toThrow(NotOwnedError); // b held one permit only
    a.release();
    a.release();
    expect(cache.has('pool')).toBe(false); // the entry goes with its last holder
    expect(() => a.release()).toThrow(NotOwnedError);
  });

  it('defaults to one permit', async () => {
    using cache = new Cache(tempDir('sem'));
    const semaphore = new BoundedSemaphore(cache, 'one');
    expect(semaphore.value).toBe(1);
    await semaphore.acquire();
    await expect(semaphore.acquire({ timeout: 0.02 })).rejects.toBeInstanceOf(Timeout);
    await expect(semaphore.acquire({ signal: AbortSignal.timeout(20) })).rejects.toBeInstanceOf(
      AbortError,
    );
    semaphore.release();
  });

  it('expired permits stop counting, and releasing one throws NotOwnedError', async () => {
    using cache = new Cache(tempDir('sem'));
    // A second of slack between the short permits and the check that they still count.
    const short = new BoundedSemaphore(cache, 'pool', { value: 2, expire: 1 });
    const long = new BoundedSemaphore(cache, 'pool', { value: 2, expire: 60 });
    short.tryAcquire();
    short.tryAcquire();
    expect(long.tryAcquire()).toBe(false);
    await long.acquire({ timeout: 30 }); // the short permits lapsed
    expect(long.available()).toBe(1);
    expect(() => short.release()).toThrow(NotOwnedError);
    long.release();
  });

  it('a waiting acquire proceeds when a permit is released', async () => {
    using cache = new Cache(tempDir('sem'));
    const semaphore = new BoundedSemaphore(cache, 'pool', { value: 2 });
    await semaphore.acquire();
    await semaphore.acquire();
    const order: string[] = [];
    const third = semaphore.acquire().then(() => order.push('third'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    order.push('release');
    semaphore.release();
    await third;
    expect(order).toEqual(['release', 'third']);
    expect(semaphore.available()).toBe(0);
    semaphore.release();
    semaphore.release();
  });

  it('rejects a bad value', () => {
    using cache = new Cache(tempDir('sem'));
    expect(() => new BoundedSemaphore(cache, 'k', { value: 0 })).toThrow(
      /value must be an integer >= 1, got 0/,
    );
    expect(() => new BoundedSemaphore(cache, 'k', { value: 1.5 })).toThrow(RangeError);
    expect(() => new BoundedSemaphore(cache, 'k', { value: '2' as never })).toThrow(RangeError);
  });

  it('never has more than 3 holders among 4 processes x 3 tasks', async () => {
    const directory = tempDir('sem-mp');
    await startTogether(
      'recipes-semaphore.ts',
      Array.from({ length: 4 }, () => [directory, '3', '3', '8']),
    );
    using cache = new Cache(directory);
    expect(cache.get('done')).toBe(4 * 3 * 8);
    expect(cache.get('inside')).toBe(0);
    const max = cache.get<number>('max-inside')!;
    expect(max).toBeLessThanOrEqual(3);
    expect(max).toBeGreaterThanOrEqual(2); // permits really are shared, not one at a time
    expect(cache.has('pool')).toBe(false);
  });

  it('the permits of a SIGKILLed process come back after expire', async () => {
    const directory = tempDir('sem-kill');
    using cache = new Cache(directory);
    const child = await holdInChild(directory, 'semaphore', 'pool', 1); // holds both of 2 permits
    const semaphore = new BoundedSemaphore(cache, 'pool', { value: 2 });
    expect(semaphore.tryAcquire()).toBe(false);
    await kill(child);
    await semaphore.acquire({ timeout: 15 });
    await semaphore.acquire({ timeout: 15 });
    expect(semaphore.available()).toBe(0);
    semaphore.release();
    semaphore.release();
  });
});
