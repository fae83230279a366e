import { describe, expect, it } from 'vitest';
import {
  Averager,
  BoundedSemaphore,
  FanoutCache,
  Lock,
  memoizeStampede,
  RLock,
  throttle,
} from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

describe('recipes on a FanoutCache', () => {
  it('work as on a Cache', async () => {
    using cache = new FanoutCache(tempDir('fanout-recipes'), { shards: 4 });
    const lock = new Lock(cache, 'lock');
    expect(lock.tryAcquire()).toBe(true);
    expect(new Lock(cache, 'lock').tryAcquire()).toBe(false);
    lock.release();
    const rlock = new RLock(cache, 'rlock');
    expect(await rlock.run(() => rlock.run(() => 'nested'))).toBe('nested');
    const semaphore = new BoundedSemaphore(cache, 'sem', { value: 2 });
    expect([semaphore.tryAcquire(), semaphore.tryAcquire(), semaphore.tryAcquire()]).toEqual([
      true,
      true,
      false,
    ]);
    const averager = new Averager(cache, 'avg');
    averager.add(1);
    averager.add(3);
    expect(averager.pop()).toBe(2);
    let runs = 0;
    const load = memoizeStampede(cache, { expire: 60 })(async function load() {
      runs++;
      return 'v';
    });
    expect(await Promise.all([load(), load(), load()])).toEqual(['v', 'v', 'v']);
    expect(runs).toBe(1);
    expect(await throttle(cache, { count: 5, seconds: 1, name: 't' })(() => 'ok')()).toBe('ok');
  });
});
