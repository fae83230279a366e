import { describe, expect, it } from 'vitest';
import { Cache, throttle } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { startTogether } from './together.js';

describe('throttle', () => {
  it('runs the function with its arguments and this, resolves with its result, rejects with its error', async () => {
    using cache = new Cache(tempDir('throttle'));
    const limited = throttle(cache, { count: 100, seconds: 1 })(function add(
      this: { base: number } | undefined,
      a: number,
      b: number,
    ) {
      if (a < 0) throw new Error('negative');
      return (this?.base ?? 0) + a + b;
    });
    expect(await limited(1, 2)).toBe(3);
    expect(await limited.call({ base: 10 }, 1, 2)).toBe(13);
    await expect(limited(-1, 0)).rejects.toThrow('negative');
    expect(
      await throttle(cache, { count: 100, seconds: 1, name: 'async' })(async (x: string) =>
        x.toUpperCase(),
      )('a'),
    ).toBe('A');
  });

  it('a call beyond the burst waits for its token', async () => {
    using cache = new Cache(tempDir('throttle'));
    const starts: number[] = [];
    const limited = throttle(cache, { count: 1, seconds: 0.1, name: 'slow' })(() => {
      starts.push(performance.now());
    });
    await Promise.all(Array.from({ length: 5 }, () => limited()));
    // One token per 0.1 s after a burst of one: the fifth call cannot start before 0.4 s after the first
    // (a lower bound: the throttle's correctness, not the machine's speed).
    expect(starts).toHaveLength(5);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(380);
  });

  it('keeps the bucket under its name; wrapping again does not reset it (unlike diskcache)', async () => {
    using cache = new Cache(tempDir('throttle'));
    const options = { count: 3, seconds: 3600, name: 'api', expire: 7200, tag: 'buckets' };
    const first = throttle(cache, options)(() => 'ok');
    await first();
    await first();
    await first();
    const spent = cache.getEntry<[number, number]>('api');
    expect(spent?.value[1]).toBeLessThan(1); // no whole token left for an hour
    expect(spent?.tag).toBe('buckets');
    expect(spent?.expireTime).toBeGreaterThan(Date.now() / 1000 + 7000);
    throttle(cache, options)(() => 'again'); // another process (or module) wraps with the same name
    expect(cache.get('api')).toEqual(spent?.value);
  });

  it('rejects bad options', () => {
    using cache = new Cache(tempDir('throttle'));
    expect(() => throttle(cache, undefined as never)).toThrow(/count, seconds/);
    expect(() => throttle(cache, { count: 0, seconds: 1 })).toThrow(
      /count must be a number >= 1, got 0/,
    );
    expect(() => throttle(cache, { count: 1, seconds: 0 })).toThrow(
      /seconds must be a number of seconds > 0, got 0/,
    );
    expect(() => throttle(cache, { count: 1, seconds: Number.POSITIVE_INFINITY })).toThrow(
      RangeError,
    );
    expect(() => throttle(cache, { count: 1, seconds: 1, name: 3 as never })).toThrow(TypeError);
    expect(() => throttle(cache, { count: 1, seconds: 1 })(() => 1)).toThrow(/has no name/);
    expect(() => throttle(cache, { count: 1, seconds: 1 })('f' as never)).toThrow(TypeError);
  });

  it('3 processes sharing 10 calls/s over 3 s get the budget and no more', async () => {
    const directory = tempDir('throttle-mp');
    const [count, seconds, window] = [10, 1, 3];
    await startTogether(
      'recipes-throttle.ts',
      Array.from({ length: 3 }, () => [directory, String(count), String(seconds), '3']),
      () => Date.now() / 1000 + window, // every call that starts before this counts
    );
    using cache = new Cache(directory);
    const runs = cache.get<number>('runs')!;
    // At most the initial burst (a full bucket) plus the rate over the window; without the shared
    // bucket each process would get its own budget (about 3 x 40).
    expect(runs).toBeLessThanOrEqual(count + (count / seconds) * window);
    expect(runs).toBeGreaterThanOrEqual(20);
  });
});
