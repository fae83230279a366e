// Deque shared by real child processes on one directory: each item popped exactly once, no item
// lost or duplicated while appenders and poppers run together, maxlen held by every append,
// iteration during changes, and waiting for a write lock held by another process.
import { describe, expect, it } from 'vitest';
import { Cache, Deque, Timeout } from '../../src/index.js';
import { exited, forkFixture, message, messagesReceived, sent } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';
import { startTogether } from '../recipes/together.js';

const CHILD = 'collections-deque-child.ts';

/** Asserts that `groups` together hold every item of `expected` exactly once. */
function expectExactlyOnce(groups: string[][], expected: string[]): void {
  const all = groups.flat();
  expect(all.length).toBe(expected.length);
  expect(new Set(all).size).toBe(all.length);
  expect(new Set(all)).toEqual(new Set(expected));
}

describe('Deque across processes', () => {
  it('4 children draining 20,000 items with popLeft receive every item exactly once, in order', async () => {
    const directory = tempDir('deque-drain');
    const items = Array.from({ length: 20_000 }, (_, i) => `item-${String(i).padStart(5, '0')}`);
    const deque = new Deque<string>(directory);
    deque.extend(items);
    const got = await startTogether<string[]>(
      CHILD,
      Array.from({ length: 4 }, () => ['drain', directory]),
    );
    expectExactlyOnce(got, items);
    for (const part of got) expect(part).toEqual([...part].sort()); // popLeft is FIFO for each child
    expect(deque.length).toBe(0);
    deque.close();
  });

  it('4 appenders and 4 poppers at once: nothing lost, nothing duplicated', async () => {
    const directory = tempDir('deque-mixed');
    const control = tempDir('deque-control');
    new Deque(directory).close();
    const perAppender = 1_000;
    const appenders = ['a', 'b', 'c', 'd'].map((id) => [
      'append',
      directory,
      control,
      id,
      String(perAppender),
    ]);
    const poppers = Array.from({ length: 4 }, () => ['pop', directory, control, '4']);
    const results = await startTogether<number | string[]>(CHILD, [...appenders, ...poppers]);
    expect(results.slice(0, 4)).toEqual([perAppender, perAppender, perAppender, perAppender]);
    const expected = ['a', 'b', 'c', 'd'].flatMap((id) =>
      Array.from({ length: perAppender }, (_, n) => `${id}:${n}`),
    );
    expectExactlyOnce(results.slice(4) as string[][], expected);
    const deque = new Deque(directory);
    expect(deque.length).toBe(0);
    deque.close();
  });

  it('maxlen holds after every append of 3 processes appending at both ends', async () => {
    const directory = tempDir('deque-bounded');
    const largest = await startTogether<number>(
      CHILD,
      ['x', 'y', 'z'].map((id) => ['bounded', directory, id, '300', '10']),
    );
    for (const length of largest) {
      expect(length).toBeGreaterThan(0);
      expect(length).toBeLessThanOrEqual(10);
    }
    const deque = new Deque<string>(directory);
    expect(deque.length).toBe(10);
    expect(new Set(deque).size).toBe(10);
    deque.close();
  });

  it('iterating while other processes move items never fails nor yields an item twice', async () => {
    const directory = tempDir('deque-walk');
    const deque = new Deque<number>(directory);
    deque.extend(Array.from({ length: 1_000 }, (_, i) => i));
    const [, , ...walkers] = await startTogether<
      { walks: number; repeated: number[]; sizes: number[] } | number
    >(CHILD, [
      ['churn', directory, '3000'],
      ['churn', directory, '3000'],
      ['walk', directory, '30'],
      ['walk', directory, '30'],
    ]);
    for (const walker of walkers as { walks: number; repeated: number[]; sizes: number[] }[]) {
      expect(walker.repeated).toEqual([]);
      expect(walker.sizes).toHaveLength(30);
      for (const size of walker.sizes) expect(size).toBeLessThanOrEqual(1_000);
    }
    expect([...deque].sort((a, b) => a - b)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    deque.close();
  });

  it('waits for a write lock another process holds longer than the cache timeout', async () => {
    const directory = tempDir('deque-lock');
    const cache = new Cache(directory, { timeout: 0.05, evictionPolicy: 'none' });
    const deque = Deque.fromCache<string>(cache);
    deque.append('before');
    const holder = forkFixture('cache-hold-lock.ts', [directory, '500']);
    await message(holder, (m) => m === 'locked');
    expect(() => cache.set('plain', 1)).toThrow(Timeout); // a plain write gives up after 50 ms...
    await sent(holder, 'release'); // (the holder commits 500 ms after it reads this)
    deque.append('after'); // ...the deque waits for the lock, as diskcache's retry=True does
    expect(await exited(holder)).toBe(0);
    expect([...deque]).toEqual(['before', 'after']);
    cache.close();
  });
});

describe('Deque and a process killed mid-work', () => {
  it('a SIGKILLed extend leaves whole batches only', async () => {
    const directory = tempDir('deque-kill');
    const child = forkFixture('collections-killed-child.ts', ['deque-extend', directory, '500']);
    await messagesReceived(child, 5); // five whole batches committed
    child.kill('SIGKILL');
    expect(await exited(child)).toBe('SIGKILL');
    const deque = new Deque<string>(directory);
    const items = [...deque];
    expect(items.length).toBeGreaterThanOrEqual(5 * 500);
    expect(items.length % 500).toBe(0);
    expect(items).toEqual(
      Array.from({ length: items.length }, (_, k) => `${Math.floor(k / 500)}:${k % 500}`),
    );
    expect(deque.cache.check()).toEqual([]);
    deque.close();
  });
});
