/**
 * RedisDeque, RedisLock and RedisThrottle across real processes on one redis-server (started by
 * this file on a free port): consumers waiting on one deque receive each item exactly once; a
 * lock held by several processes in turn never lets two inside (a read-pause-write counter loses
 * no update); one throttle budget holds across processes, measured by the server's clock.
 */
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { RedisDeque } from '../../src/redis/index.js';
import { exited, forkFixture, message } from '../helpers/children.js';
import { redisForFile } from '../helpers/redis-file.js';
import { findRedisServer, type RedisServer, redisTitle } from '../helpers/redis-server.js';

let server: RedisServer;
let client: Redis;

/**
 * Forks one child per args list and resolves once each says 'ready', with the children and their
 * final results (listened for from the start: a fast child may finish before a slow one is ready).
 */
async function startChildren<R>(argsList: string[][]) {
  const children = argsList.map((args) => forkFixture('redis-collections-child.ts', args));
  const results = Promise.all(
    children.map((child) => message<R>(child, (m) => typeof m === 'object' && m !== null)),
  );
  results.catch(() => {}); // awaited by the tests that want results; a failure shows in exit codes
  await Promise.all(children.map((child) => message(child, (m) => m === 'ready')));
  return { children, results };
}

describe.skipIf(!findRedisServer())(redisTitle('Redis collections across processes'), () => {
  const redis = redisForFile();
  beforeAll(() => {
    ({ server, client } = redis);
  });

  it('three processes waiting on one RedisDeque receive each item exactly once', async () => {
    const locator = server.locator('drain');
    const { children, results } = await startChildren<{ items: number[] }>(
      [0, 1, 2].map(() => ['drain', locator]),
    );
    await using deque = new RedisDeque<number | string>(locator);
    const ITEMS = 600;
    for (let i = 0; i < ITEMS; i += 50) {
      await deque.extend(Array.from({ length: 50 }, (_, j) => i + j));
      await new Promise((resolve) => setTimeout(resolve, 5)); // the consumers wait between batches
    }
    await deque.extend(['stop', 'stop', 'stop']);
    const received = (await results).map((r) => r.items);
    expect(await Promise.all(children.map(exited))).toEqual([0, 0, 0]);
    const all = received.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: ITEMS }, (_, i) => i));
    console.log(
      `RedisDeque drain: items per consumer ${received.map((r) => r.length).join(' / ')}`,
    );
    expect(await deque.len()).toBe(0);
  }, 120_000);

  it('a RedisLock lets one process in at a time: no update of a shared counter is lost', async () => {
    const locator = server.locator('mutex');
    const ROUNDS = 40;
    const { children } = await startChildren(
      [0, 1, 2].map(() => ['lock', locator, String(ROUNDS)]),
    );
    expect(await Promise.all(children.map(exited))).toEqual([0, 0, 0]);
    expect(Number(await client.get('audit:counter'))).toBe(3 * ROUNDS);
    expect(Number(await client.get('audit:max'))).toBe(1);
    expect(await client.hexists('dl:{mutex}:owner', 't')).toBe(0); // released at the end
  }, 120_000);

  it('one RedisThrottle budget holds across processes (server-side timestamps)', async () => {
    const locator = server.locator('rate');
    const COUNT = 4; // per second, and the burst
    const CALLS = 6; // per process
    const started = await startChildren<{ times: number[] }>(
      [0, 1, 2].map(() => ['throttle', locator, String(COUNT), '1', String(CALLS)]),
    );
    const { children } = started;
    const results = await started.results;
    await Promise.all(children.map(exited));
    const times = results.flatMap((r) => r.times).sort((a, b) => a - b);
    expect(times.length).toBe(3 * CALLS);
    // After the burst, each further call needs a token of its own: 1/COUNT s apart on average.
    const span = (times.at(-1)! - times[0]!) / 1000;
    const minimum = (times.length - COUNT) / COUNT;
    console.log(
      `RedisThrottle across 3 processes: ${times.length} calls in ${span.toFixed(2)} s (budget ${COUNT}/s: at least ${minimum.toFixed(2)} s)`,
    );
    // 250 ms slack: a timestamp is read one round trip after its token, on a loaded machine.
    expect(span).toBeGreaterThanOrEqual(minimum - 0.25);
    // And never more than COUNT + rate × window in any window (burst plus refill).
    for (let i = 0; i < times.length; i++)
      for (let j = i + COUNT; j < times.length; j++)
        expect(times[j]! - times[i]!).toBeGreaterThanOrEqual(
          ((j - i - COUNT + 1) * 1000) / COUNT - 250,
        );
    expect(span).toBeLessThan(minimum * 4 + 5); // shared, not starved
  }, 120_000);
});
