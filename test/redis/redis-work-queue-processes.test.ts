/**
 * RedisWorkQueue across real processes on one redis-server: three workers drain one queue while one
 * is SIGKILLed mid-run, and while the server itself is killed and restarted (AOF on). Every job ends
 * done, none is acked by two leases (audit sets written by the workers), nothing is failed or left
 * over.
 */
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWorkQueue } from '../../src/redis/index.js';
import { exited, forkFixture } from '../helpers/children.js';
import { findRedisServer, RedisServer, redisTitle } from '../helpers/redis-server.js';

const JOBS = 1500;
let server: RedisServer;

/** Resolves once `child` reports at least `acked` acks. */
function progress(child: ChildProcess, acked: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { acked: number }) => {
      if (m.acked < acked) return;
      child.off('message', onMessage);
      resolve();
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) at under ${acked}`)));
  });
}

async function fill(name: string): Promise<RedisWorkQueue<number>> {
  const queue = new RedisWorkQueue<number>(server.locator(name), { leaseSeconds: 1 });
  await queue.putMany(Array.from({ length: JOBS }, (_, i) => i));
  return queue;
}

/** How many audit members (leases: `id|pid|attempt`) each job id has. */
function perJob(members: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const member of members) {
    const id = member.slice(0, member.indexOf('|'));
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Every job done once: all acked, no id acked by two leases, every result stored. */
async function expectAllDoneOnce(queue: RedisWorkQueue<number>): Promise<number> {
  expect(await queue.stats()).toEqual({ pending: 0, leased: 0, done: JOBS, failed: 0 });
  expect(await queue.results.size()).toBe(JOBS);
  const client = new Redis(server.port, '127.0.0.1');
  const acks = perJob(await client.smembers('audit:acks'));
  const runs = perJob(await client.smembers('audit:runs'));
  await client.del('audit:acks', 'audit:runs');
  await client.quit();
  // No job acked by two leases (the worker's audit names each lease: id|pid|attempt).
  expect([...acks].filter(([, count]) => count !== 1)).toEqual([]);
  expect(acks.size).toBe(JOBS);
  expect(runs.size).toBe(JOBS);
  return [...runs.values()].reduce((total, count) => total + count, 0) - JOBS; // jobs run again
}

describe.skipIf(!findRedisServer())(redisTitle('RedisWorkQueue across processes'), () => {
  beforeAll(async () => {
    server = await RedisServer.start({ appendonly: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('three workers drain a queue while one of them is SIGKILLed mid-run', async () => {
    const queue = await fill('kill');
    const workers = Array.from({ length: 3 }, () =>
      forkFixture('redis-worker.ts', [server.locator('kill'), '8', '10']),
    );
    await progress(workers[0]!, 100);
    workers[0]!.kill('SIGKILL');
    expect(await Promise.all(workers.map(exited))).toEqual(['SIGKILL', 0, 0]);
    const reruns = await expectAllDoneOnce(queue);
    expect(reruns).toBeLessThanOrEqual(16); // at most the killed worker's two batches
    await queue.close();
  });

  it('workers reconnect and finish when the server is killed and restarted mid-run', async () => {
    const queue = await fill('restart');
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the puts reach the AOF
    const workers = Array.from({ length: 3 }, () =>
      forkFixture('redis-worker.ts', [server.locator('restart'), '8', '10']),
    );
    await progress(workers[0]!, 100);
    await server.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.start();
    expect(await Promise.all(workers.map(exited))).toEqual([0, 0, 0]);
    await expectAllDoneOnce(queue);
    await queue.close();
  });
});
