import { describe, expect, it } from 'vitest';
import { BoundedSemaphore, barrier, Cache, Lock, RLock } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { startTogether } from './together.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `calls` concurrent calls of a function wrapped by `wrap` and returns the most that overlapped. */
async function maxOverlap(
  wrap: (fn: (n: number) => Promise<number>) => (n: number) => Promise<number>,
  calls: number,
): Promise<number> {
  let inside = 0;
  let max = 0;
  const wrapped = wrap(async function work(n: number) {
    max = Math.max(max, ++inside);
    await pause(2);
    inside--;
    return n * 2;
  });
  const results = await Promise.all(Array.from({ length: calls }, (_, i) => wrapped(i)));
  expect(results).toEqual(Array.from({ length: calls }, (_, i) => i * 2));
  return max;
}

describe('barrier', () => {
  it('serializes the calls of one process with a Lock or an RLock, and allows `value` with a semaphore', async () => {
    using cache = new Cache(tempDir('barrier'));
    expect(
      await maxOverlap(
        barrier(cache, (c, k, o) => new Lock(c, k, o)),
        8,
      ),
    ).toBe(1);
    expect(
      await maxOverlap(
        barrier(cache, (c, k, o) => new RLock(c, k, o), { name: 'r' }),
        8,
      ),
    ).toBe(1);
    const pair = await maxOverlap(
      barrier(cache, (c, k, o) => new BoundedSemaphore(c, k, { ...o, value: 2 }), { name: 's' }),
      8,
    );
    expect(pair).toBe(2);
  });

  it('releases the lock when the function throws, and passes this and arguments', async () => {
    using cache = new Cache(tempDir('barrier'));
    const guarded = barrier(cache, (c, k, o) => new Lock(c, k, o), {
      name: 'guarded',
      expire: 30,
      tag: 't',
    })(function (this: { base: number } | undefined, n: number) {
      if (n < 0) throw new Error('negative');
      expect(cache.getEntry('guarded')?.tag).toBe('t'); // the lock is held, with its tag
      return (this?.base ?? 0) + n;
    });
    await expect(guarded(-1)).rejects.toThrow('negative');
    expect(cache.has('guarded')).toBe(false);
    expect(await guarded.call({ base: 10 }, 5)).toBe(15);
    expect(cache.has('guarded')).toBe(false);
  });

  it('rejects bad arguments', () => {
    using cache = new Cache(tempDir('barrier'));
    expect(() => barrier(cache, 'lock' as never)).toThrow(/lockFactory must be a function/);
    expect(() => barrier(cache, (c, k, o) => new Lock(c, k, o))(() => 1)).toThrow(/has no name/);
    expect(() => barrier(cache, () => ({}) as never)(function f() {})).toThrow(
      /acquire\(\) and release\(\)/,
    );
    expect(() =>
      barrier(cache, (c, k, o) => new Lock(c, k, o), { expire: 0 })(function f() {}),
    ).toThrow(RangeError);
  });

  it('serializes calls across 3 processes x 2 tasks: never two inside at once', async () => {
    const directory = tempDir('barrier-mp');
    const results = await startTogether<number[]>(
      'recipes-barrier.ts',
      Array.from({ length: 3 }, () => [directory, '2', '15']),
    );
    expect(results).toEqual(Array.from({ length: 3 }, () => [0, 15]));
    using cache = new Cache(directory);
    expect(cache.get('calls')).toBe(3 * 2 * 15);
    expect(cache.get('max-inside')).toBe(1);
    expect(cache.get('inside')).toBe(0);
  });
});
