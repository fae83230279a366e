/**
 * The `.async` views: waiting for another process's write lock never blocks the event loop (the
 * sync call does), Timeout after `timeout`, awaitable pops and `consume` across processes, and
 * the same results as the synchronous methods.
 */
import { describe, expect, it } from 'vitest';
import { Cache, Deque, FanoutCache, Index, Timeout, WorkQueue } from '../../src/index.js';
import { exited, forkFixture, message } from '../helpers/children.js';
import { holdLock, maxLagDuring } from '../helpers/event-loop.js';
import { tempDir } from '../helpers/tmp.js';

describe('cache.async', () => {
  it('has the same results as the synchronous methods', async () => {
    using cache = new Cache(tempDir('async'));
    expect(await cache.async.set('k', { a: 1 }, { expire: 60, tag: 't' })).toBe(true);
    expect(await cache.async.get('k')).toEqual({ a: 1 });
    expect(await cache.async.has('k')).toBe(true);
    expect(await cache.async.add('k', 2)).toBe(false);
    expect(await cache.async.incr('n', 5)).toBe(5);
    expect((await cache.async.getEntry('k'))?.tag).toBe('t');
    await cache.async.push('job');
    expect((await cache.async.pull())?.value).toBe('job');
    expect(await cache.async.evict('t')).toBe(1);
    expect(await cache.async.transact(() => cache.get('n'))).toBe(5);
    expect(await cache.async.delete('n')).toBe(true);
    expect(await cache.async.clear()).toBe(0);
    await expect(cache.async.set('k', undefined)).rejects.toThrow(TypeError);
  });

  it('keeps the event loop free while another process holds the write lock; the sync call blocks it', async () => {
    const dir = tempDir('async-lag');
    using cache = new Cache(dir, { timeout: 30 });
    cache.set('k', 0);
    let child = await holdLock(dir, 3000);
    const waited = await maxLagDuring(() => cache.async.set('k', 1));
    await exited(child);
    expect(waited.result).toBe(true);
    expect(cache.get('k')).toBe(1);
    child = await holdLock(dir, 3000);
    const blocked = await maxLagDuring(() => cache.set('k', 2));
    await exited(child);
    expect(cache.get('k')).toBe(2);
    console.log(
      `event-loop lag while a lock is held 3 s: .async ${waited.lag.toFixed(0)} ms, sync ${blocked.lag.toFixed(0)} ms`,
    );
    // Wide slack for a loaded machine: the sync call stalls the loop for most of the 3 s.
    expect(blocked.lag).toBeGreaterThan(1500);
    expect(waited.lag).toBeLessThan(1000);
  }, 60_000);

  it('rejects with Timeout after `timeout` seconds, without blocking', async () => {
    const dir = tempDir('async-timeout');
    using cache = new Cache(dir, { timeout: 0.3 });
    cache.set('k', 0);
    const child = await holdLock(dir, 4000);
    const started = performance.now();
    const { lag, result } = await maxLagDuring(() =>
      cache.async.set('k', 1).then(
        () => 'resolved',
        (error: unknown) => error,
      ),
    );
    const elapsed = performance.now() - started;
    expect(result).toBeInstanceOf(Timeout);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3500);
    expect(lag).toBeLessThan(1000);
    await exited(child);
    expect(cache.get('k')).toBe(0); // nothing was written
  }, 60_000);
});

describe('deque.async', () => {
  it('popLeft({wait}) waits for an item appended later, and ends empty when none comes', async () => {
    const dir = tempDir('deque-wait');
    using deque = new Deque<string>(dir);
    expect(await deque.async.popLeft()).toBeUndefined();
    expect(await deque.async.popLeft({ wait: 0.1 })).toBeUndefined();
    const other = new Deque<string>(dir); // another object, as another process would be
    setTimeout(() => other.append('late'), 200);
    expect(await deque.async.popLeft({ wait: 30 })).toBe('late');
    other.close();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(
      deque.async.popRight({ wait: 30, signal: controller.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    await expect(deque.async.popLeft({ wait: -1 })).rejects.toThrow(RangeError);
  });

  it('consume() across 2 processes delivers each item exactly once', async () => {
    const dir = tempDir('deque-consume');
    using deque = new Deque<string | number>(dir);
    const consumers = [0, 1].map(() => forkFixture('deque-async-consumer.ts', [dir]));
    await Promise.all(consumers.map((child) => message(child, (m) => m === 'ready')));
    const results = consumers.map((child) =>
      message<{ received: number[] }>(child, (m) => typeof m === 'object' && m !== null),
    );
    const items = Array.from({ length: 400 }, (_, i) => i);
    for (let i = 0; i < items.length; i += 50) deque.extend(items.slice(i, i + 50));
    deque.extend(['STOP', 'STOP']);
    const received = (await Promise.all(results)).flatMap((r) => r.received);
    await Promise.all(consumers.map(exited));
    expect(received.sort((a, b) => a - b)).toEqual(items);
    expect(deque.length).toBe(0);
  }, 60_000);
});

describe('index.async and fanout.async', () => {
  it('Index: the same results as the Map methods', async () => {
    using index = new Index<string, number>(tempDir('index-async'));
    await index.async.set('a', 1);
    expect(await index.async.get('a')).toBe(1);
    expect(await index.async.setDefault('b', 2)).toBe(2);
    expect(await index.async.has('b')).toBe(true);
    expect(await index.async.popItem()).toEqual(['b', 2]);
    expect(await index.async.delete('a')).toBe(true);
  });

  it('FanoutCache: routes keys to shards; a locked shard gives up as the sync methods do', async () => {
    const dir = tempDir('fanout-async');
    using cache = new FanoutCache(dir, { shards: 2 });
    expect(await cache.async.set('a', 1)).toBe(true);
    expect(await cache.async.get('a')).toBe(1);
    expect(await cache.async.incr('n')).toBe(1);
    expect(await cache.async.clear()).toBe(2);
    expect(await cache.async.get('a', { default: 'none' })).toBe('none');
  });
});

describe('workQueue.async', () => {
  it("waits for another process's write lock without blocking the event loop", async () => {
    const dir = tempDir('queue-async');
    using queue = new WorkQueue<number>(dir, { timeout: 30 });
    queue.put(1);
    const child = await holdLock(dir, 2000);
    const waited = await maxLagDuring(() => queue.async.put(2));
    await exited(child);
    expect(waited.result).toBeTypeOf('number');
    expect(waited.lag).toBeLessThan(1000);
    const job = await queue.async.take();
    expect(job?.payload).toBe(1);
    await job?.ack('done');
    expect(await queue.async.results.get(job!.id)).toBe('done');
    expect(await queue.async.stats()).toMatchObject({ pending: 1, done: 1 });
  }, 60_000);

  it("a worker's ack and take wait for another process's lock without blocking, or time out changing nothing", async () => {
    const dir = tempDir('queue-async-group');
    using queue = new WorkQueue<number>(dir, { timeout: 30 });
    queue.putMany([1, 2, 3, 4]);
    const [first] = await queue.async.takeMany(1);
    let child = await holdLock(dir, 1500);
    const waited = await maxLagDuring(() =>
      Promise.all([queue.async.ackMany([first!]), queue.async.takeMany(1)]),
    );
    await exited(child);
    expect(waited.lag).toBeLessThan(1000);
    const [lost, [second]] = waited.result;
    expect(lost).toEqual([]);
    expect([first!.settled, second?.payload]).toEqual([true, 2]);

    using impatient = new WorkQueue<number>(dir, { timeout: 0.3 });
    const [third] = await impatient.async.takeMany(1);
    child = await holdLock(dir, 1500);
    const outcomes = await Promise.allSettled([
      impatient.async.ackMany([third!]),
      impatient.async.takeMany(1),
    ]);
    await exited(child);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(Timeout);
    }
    // Nothing was acked: the job object can still be acked.
    expect(third!.settled).toBe(false);
    expect(await queue.async.stats()).toMatchObject({ pending: 1, leased: 2, done: 1 });
    expect(await impatient.async.ackMany([third!])).toEqual([]);
    await second!.ack();
    expect(await queue.async.stats()).toEqual({ pending: 1, leased: 0, done: 3, failed: 0 });
  }, 60_000);
});
