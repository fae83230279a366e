import { describe, expect, it } from 'vitest';
import { Cache, NotOwnedError, RLock, Timeout } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { holdInChild, kill } from './together.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RLock', () => {
  it('re-enters within one owner context (run) and is free after as many releases', async () => {
    using cache = new Cache(tempDir('rlock'));
    const rlock = new RLock(cache, 'tree');
    const other = new RLock(cache, 'tree');
    await rlock.run(async () => {
      await rlock.acquire({ timeout: 0 }); // re-entry: no wait
      expect(rlock.tryAcquire()).toBe(true);
      expect(cache.get('tree')).toEqual([expect.any(String), 3]);
      await rlock.run(async () => {
        expect(cache.get<[string, number]>('tree')?.[1]).toBe(4); // nested run acts for its owner
      });
      rlock.release();
      rlock.release();
      expect(rlock.locked()).toBe(true);
      expect(other.tryAcquire()).toBe(true); // ownership is the context's, not the object's (as Python's per-thread)
      other.release();
    });
    expect(rlock.locked()).toBe(false);
    expect(cache.has('tree')).toBe(false);
  });

  it('re-entry works through nested async functions (recursion)', async () => {
    using cache = new Cache(tempDir('rlock'));
    const rlock = new RLock(cache, 'tree');
    const depths: number[] = [];
    const visit = (depth: number): Promise<void> =>
      rlock.run(async () => {
        depths.push(depth);
        await pause(1);
        if (depth < 5) await visit(depth + 1);
      });
    await visit(0);
    expect(depths).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rlock.locked()).toBe(false);
  });

  it('two concurrent tasks of one process do not share it', async () => {
    using cache = new Cache(tempDir('rlock'));
    const rlock = new RLock(cache, 'shared');
    let inside = 0;
    let maxInside = 0;
    const task = () =>
      rlock.run(async () => {
        maxInside = Math.max(maxInside, ++inside);
        await pause(5);
        await rlock.run(async () => {
          await pause(1); // re-entered while the sibling waits
        });
        inside--;
      });
    await Promise.all([task(), task(), task(), task()]);
    expect(maxInside).toBe(1);
  });

  it('siblings started inside one owner context exclude each other', async () => {
    using cache = new Cache(tempDir('rlock'));
    const outer = new RLock(cache, 'outer');
    const inner = new RLock(cache, 'inner');
    let inside = 0;
    let maxInside = 0;
    await outer.run(async () => {
      await Promise.all(
        [1, 2, 3].map(() =>
          inner.run(async () => {
            maxInside = Math.max(maxInside, ++inside);
            await pause(3);
            inside--;
          }),
        ),
      );
    });
    expect(maxInside).toBe(1);
  });

  it('outside any owner context each acquire is its own owner (tasks exclude each other)', async () => {
    using cache = new Cache(tempDir('rlock'));
    const rlock = new RLock(cache, 'plain');
    await rlock.acquire();
    expect(rlock.tryAcquire()).toBe(false); // no context: not a re-entry
    await expect(rlock.acquire({ timeout: 0.02 })).rejects.toBeInstanceOf(Timeout);
    const order: string[] = [];
    const waiter = rlock.acquire().then(() => order.push('waiter'));
    await pause(10);
    order.push('release');
    rlock.release();
    await waiter;
    expect(order).toEqual(['release', 'waiter']);
    rlock.release();
    expect(rlock.locked()).toBe(false);
  });

  it('release by another owner throws NotOwnedError and keeps the holder', async () => {
    using cache = new Cache(tempDir('rlock'));
    const rlock = new RLock(cache, 'k');
    expect(() => rlock.release()).toThrow(NotOwnedError); // nobody holds it
    let finishHolder!: () => void;
    const holder = rlock.run(() => new Promise<void>((resolve) => (finishHolder = resolve)));
    await pause(5);
    expect(rlock.locked()).toBe(true);
    // Another owner context (a run of an unrelated RLock) does not hold 'k':
    await new RLock(cache, 'unrelated').run(() => {
      expect(() => rlock.release()).toThrow(NotOwnedError);
    });
    expect(() => rlock.release()).toThrow(NotOwnedError); // no context, no contextless hold
    await expect(rlock.run(async () => {}, { timeout: 0 })).rejects.toBeInstanceOf(Timeout);
    expect(rlock.locked()).toBe(true);
    finishHolder();
    await holder;
    expect(rlock.locked()).toBe(false);
  });

  it('a hold that expired is lost and its release throws', async () => {
    using cache = new Cache(tempDir('rlock'));
    const rlock = new RLock(cache, 'k', { expire: 0.05 });
    await expect(
      rlock.run(async () => {
        await pause(120);
      }),
    ).rejects.toBeInstanceOf(NotOwnedError);
    expect(rlock.locked()).toBe(false);
  });

  it('await using releases one hold of the current owner', async () => {
    using cache = new Cache(tempDir('rlock'));
    const rlock = new RLock(cache, 'k');
    await rlock.run(async () => {
      {
        await using held = await rlock.acquire();
        expect(cache.get<[string, number]>('k')?.[1]).toBe(2);
        expect(held).toBe(rlock);
      }
      expect(cache.get<[string, number]>('k')?.[1]).toBe(1);
    });
    expect(rlock.locked()).toBe(false);
  });

  it('is not shared with another process, and a SIGKILLed holder frees it after expire', async () => {
    const directory = tempDir('rlock-mp');
    using cache = new Cache(directory);
    const child = await holdInChild(directory, 'rlock', 'k', 1);
    const rlock = new RLock(cache, 'k');
    await rlock
      .run(
        async () => {
          throw new Error('not reached');
        },
        { timeout: 0 },
      )
      .catch((error: unknown) => expect(error).toBeInstanceOf(Timeout));
    expect(() => rlock.release()).toThrow(NotOwnedError);
    await kill(child);
    expect(await rlock.run(() => 'mine', { timeout: 15 })).toBe('mine');
  });
});
