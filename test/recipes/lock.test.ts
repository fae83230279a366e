import { describe, expect, it } from 'vitest';
import { AbortError, Cache, Lock, NotOwnedError, Timeout } from '../../src/index.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';
import { holdInChild, kill, startTogether } from './together.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Lock', () => {
  it('is taken with tryAcquire, seen by locked(), and freed by release', () => {
    using cache = new Cache(tempDir('lock'));
    const lock = new Lock(cache, 'job');
    expect(lock.locked()).toBe(false);
    expect(lock.tryAcquire()).toBe(true);
    expect(lock.locked()).toBe(true);
    expect(new Lock(cache, 'job').tryAcquire()).toBe(false);
    expect(lock.tryAcquire()).toBe(false); // not re-entrant
    expect(typeof cache.get('job')).toBe('string'); // the holder's token
    lock.release();
    expect(lock.locked()).toBe(false);
    expect(cache.has('job')).toBe(false);
  });

  it('a waiter gets the lock once the holder releases it', async () => {
    using cache = new Cache(tempDir('lock'));
    const first = new Lock(cache, 'job');
    const second = new Lock(cache, 'job');
    await first.acquire();
    const order: string[] = [];
    const waiting = second.acquire().then(() => order.push('second acquired'));
    await pause(20);
    order.push('first releases');
    first.release();
    await waiting;
    expect(order).toEqual(['first releases', 'second acquired']);
    expect(second.locked()).toBe(true);
    second.release();
  });

  it('tasks sharing one Lock object queue behind each other', async () => {
    using cache = new Cache(tempDir('lock'));
    const lock = new Lock(cache, 'shared');
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        lock.run(async () => {
          maxInside = Math.max(maxInside, ++inside);
          await pause(1);
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(lock.locked()).toBe(false);
  });

  it('release by an object that does not hold the lock throws NotOwnedError and keeps the holder', () => {
    using cache = new Cache(tempDir('lock'));
    const holder = new Lock(cache, 'job');
    const other = new Lock(cache, 'job');
    expect(() => other.release()).toThrow(NotOwnedError);
    holder.tryAcquire();
    expect(() => other.release()).toThrow(NotOwnedError);
    expect(holder.locked()).toBe(true);
    holder.release();
    expect(() => holder.release()).toThrow(NotOwnedError); // twice
  });

  it('a hold that expired is lost: its release throws and does not free the next holder', async () => {
    using cache = new Cache(tempDir('lock'));
    const slow = new Lock(cache, 'job', { expire: 0.05 });
    const next = new Lock(cache, 'job', { expire: 10 });
    await slow.acquire();
    await next.acquire({ timeout: 10 }); // possible only because slow's hold expired
    expect(() => slow.release()).toThrow(NotOwnedError);
    expect(next.locked()).toBe(true);
    next.release();
  });

  it('stores its tag with the entry', () => {
    using cache = new Cache(tempDir('lock'));
    const lock = new Lock(cache, 'job', { tag: 'locks', expire: 60 });
    lock.tryAcquire();
    const entry = cache.getEntry('job');
    expect(entry?.tag).toBe('locks');
    expect(entry?.expireTime).toBeGreaterThan(Date.now() / 1000);
    expect(cache.evict('locks')).toBe(1);
  });

  it('acquire rejects with Timeout after the timeout, and timeout 0 tries once', async () => {
    using cache = new Cache(tempDir('lock'));
    const holder = new Lock(cache, 'job');
    holder.tryAcquire();
    const waiter = new Lock(cache, 'job');
    await expect(waiter.acquire({ timeout: 0.05 })).rejects.toBeInstanceOf(Timeout);
    await expect(waiter.acquire({ timeout: 0 })).rejects.toThrow(/timed out/);
    holder.release();
    await expect(waiter.acquire({ timeout: 0 })).resolves.toBe(waiter);
    waiter.release();
  });

  it('acquire rejects with AbortError when its signal aborts, at once when already aborted', async () => {
    using cache = new Cache(tempDir('lock'));
    const holder = new Lock(cache, 'job');
    holder.tryAcquire();
    const waiter = new Lock(cache, 'job');
    const controller = new AbortController();
    const waiting = waiter.acquire({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 20);
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toEqual(new Error('user gave up'));
    holder.release();
    await expect(waiter.acquire({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      AbortError,
    );
    expect(waiter.locked()).toBe(false); // an aborted acquire takes nothing, even when the lock is free
  });

  it('await using releases at the end of the block, and run releases when fn throws', async () => {
    using cache = new Cache(tempDir('lock'));
    const lock = new Lock(cache, 'job');
    {
      await using held = await lock.acquire();
      expect(held.locked()).toBe(true);
    }
    expect(lock.locked()).toBe(false);
    {
      await using _unused = lock; // disposing a lock this object does not hold does nothing
    }
    await expect(lock.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(lock.locked()).toBe(false);
    expect(await lock.run(() => 42)).toBe(42);
  });

  it('rejects bad arguments with TypeError / RangeError naming them', async () => {
    using cache = new Cache(tempDir('lock'));
    expect(() => new Lock(null as never, 'k')).toThrow(TypeError);
    expect(() => new Lock({} as never, 'k')).toThrow(/cache/);
    expect(() => new Lock(cache, undefined)).toThrow(TypeError);
    expect(() => new Lock(cache, 'k', { expire: 0 })).toThrow(
      /expire must be a number of seconds > 0, got 0/,
    );
    expect(() => new Lock(cache, 'k', { expire: Number.NaN })).toThrow(TypeError); // NaN is not a number of seconds
    const lock = new Lock(cache, 'k');
    await expect(lock.acquire({ timeout: -1 })).rejects.toThrow(
      /timeout must be a number of seconds >= 0, got -1/,
    );
    await expect(lock.acquire({ signal: 'no' as never })).rejects.toThrow(TypeError);
    await expect(lock.run(undefined as never)).rejects.toThrow(TypeError);
  });

  it('4 processes x 3 tasks incrementing one counter under the lock end with the exact count', async () => {
    const directory = tempDir('lock-mp');
    // Each increment is a read, a yield, a write. Without the lock the processes overwrite each
    // other's increments and the counter ends short of 4 * 3 * 25; with it, it is exact.
    await startTogether(
      'recipes-counter.ts',
      Array.from({ length: 4 }, () => [directory, '3', '25']),
    );
    using cache = new Cache(directory);
    expect(cache.get('counter')).toBe(4 * 3 * 25);
    expect(cache.has('counter-lock')).toBe(false);
  });

  it('a process SIGKILLed while holding an expiring lock blocks the others only until expire', async () => {
    const directory = tempDir('lock-kill');
    using cache = new Cache(directory);
    const child = await holdInChild(directory, 'lock', 'job', 1);
    const lock = new Lock(cache, 'job');
    expect(lock.tryAcquire()).toBe(false);
    await kill(child);
    await lock.acquire({ timeout: 15 });
    expect(lock.locked()).toBe(true);
    lock.release();
  });

  it('without expire, the lock of a SIGKILLed holder stays taken', async () => {
    const directory = tempDir('lock-kill');
    using cache = new Cache(directory);
    await kill(await holdInChild(directory, 'lock', 'job', 'none'));
    await expect(new Lock(cache, 'job').acquire({ timeout: 0.2 })).rejects.toBeInstanceOf(Timeout);
  });
});

describe.skipIf(!findPython())(
  pythonTitle(`Lock with Python's diskcache.Lock on the same key`),
  () => {
    it('excludes a Python holder and is seen by Python', () => {
      const directory = tempDir('lock-py');
      using cache = new Cache(directory);
      const lock = new Lock(cache, 'shared');
      runPython(
        `import diskcache, sys\ndiskcache.Lock(diskcache.Cache(sys.argv[1]), 'shared').acquire()`,
        [directory],
      );
      expect(lock.locked()).toBe(true);
      expect(lock.tryAcquire()).toBe(false);
      runPython(
        `import diskcache, sys\ndiskcache.Lock(diskcache.Cache(sys.argv[1]), 'shared').release()`,
        [directory],
      );
      expect(lock.tryAcquire()).toBe(true);
      const seen = runPython(
        `import diskcache, sys\nc = diskcache.Cache(sys.argv[1])\nprint(diskcache.Lock(c, 'shared').locked(), c.add('shared', None))`,
        [directory],
      );
      expect(seen.trim()).toBe('True False');
      lock.release();
    });
  },
);
