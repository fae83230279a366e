import { describe, expect, it } from 'vitest';
import { Averager, Cache } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { startTogether } from './together.js';

describe('Averager', () => {
  it('keeps a running average, pops it, and has none when empty (as diskcache)', () => {
    using cache = new Cache(tempDir('avg'));
    const averager = new Averager(cache, 'latency');
    expect(averager.get()).toBeUndefined();
    for (let i = 0; i < 10; i++) averager.add(i);
    expect(averager.get()).toBe(4.5);
    for (let i = 10; i < 20; i++) averager.add(i);
    expect(averager.get()).toBe(9.5);
    expect(cache.get('latency')).toEqual([190, 20]);
    expect(averager.pop()).toBe(9.5);
    expect(averager.get()).toBeUndefined();
    expect(averager.pop()).toBeUndefined();
    expect(cache.has('latency')).toBe(false);
  });

  it('stores expire and tag, and rejects values that are not finite numbers', () => {
    using cache = new Cache(tempDir('avg'));
    const averager = new Averager(cache, ['stats', 'p50'], { expire: 60, tag: 'stats' });
    averager.add(2);
    const entry = cache.getEntry(['stats', 'p50']);
    expect(entry?.tag).toBe('stats');
    expect(entry?.expireTime).toBeGreaterThan(Date.now() / 1000);
    expect(() => averager.add(Number.NaN)).toThrow(/finite number, got NaN/);
    expect(() => averager.add('3' as never)).toThrow(TypeError);
    expect(() => new Averager(cache, 'k', { expire: -1 })).toThrow(RangeError);
    expect(averager.get()).toBe(2);
  });

  it('adds from 3 processes at once lose nothing', async () => {
    const directory = tempDir('avg-mp');
    await startTogether(
      'recipes-averager.ts',
      Array.from({ length: 3 }, () => [directory, '100']),
    );
    using cache = new Cache(directory);
    expect(cache.get('mean')).toEqual([3 * 5050, 300]);
    expect(new Averager(cache, 'mean').get()).toBe(50.5);
  });
});
