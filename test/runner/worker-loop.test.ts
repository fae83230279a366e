/**
 * The worker loop in this process (what each runner child runs): a lost lease aborts the
 * handler's signal and its result is dropped; a stop gives back unstarted jobs at once, lets
 * running ones finish, and past the grace period interrupts them and gives them back.
 */
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/collections/work-queue.js';
import type { JobContext } from '../../src/runner/handler.js';
import { runWorkerLoop } from '../../src/runner/worker-loop.js';
import { tempDir } from '../helpers/tmp.js';

function abortedWith(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  );
}

describe('runWorkerLoop', () => {
  it('aborts the signal of a job whose lease was taken over, and drops its result', async () => {
    const directory = tempDir('loop-lost');
    const queue = new WorkQueue<string>(directory);
    queue.put('job');
    const stop = new AbortController();
    const reasons: unknown[] = [];
    const handler = async (_payload: unknown, job: JobContext) => {
      // Another worker takes the job over (as after an expired lease): bump its lease token.
      const db = new Database(path.join(directory, 'cache.db'));
      db.prepare('UPDATE WorkQueue_jobs SET lease_token = lease_token + 1 WHERE id = ?').run(
        BigInt(job.id),
      );
      db.close();
      reasons.push(await abortedWith(job.signal));
      stop.abort();
      return 'stale result';
    };
    const counts = await runWorkerLoop({
      queue,
      handler,
      concurrency: 1,
      leaseSeconds: 1, // the heartbeat (every third of it) finds the lease gone
      stop: stop.signal,
      graceSeconds: () => 5,
      onError: (e) => reasons.push(e),
    });
    expect(counts).toMatchObject({ done: 0, lost: 1 });
    expect(String(reasons[0])).toMatch(/LeaseLostError: the lease of job 1 was lost/);
    expect(reasons).toHaveLength(1);
    expect(queue.results.size).toBe(0);
    expect(queue.stats()).toMatchObject({ leased: 1, done: 0 });
    queue.close();
  });

  it('on stop, gives back prefetched jobs at once (without counting an attempt) and lets running ones finish', async () => {
    const queue = new WorkQueue<number>(tempDir('loop-stop'));
    // Twenty quick jobs make the loop prefetch many; the slow ones behind them are still buffered at the stop.
    queue.putMany(Array.from({ length: 100 }, (_, i) => i));
    const stop = new AbortController();
    const slowStarted: number[] = [];
    const handler = async (payload: number) => {
      if (payload < 20) return payload;
      slowStarted.push(payload);
      // The stop comes once both slots run a slow job; neither finishes before it (however
      // slow the machine), so no third one starts; both finish after it.
      if (slowStarted.length === 2) setImmediate(() => stop.abort());
      await abortedWith(stop.signal);
      await sleep(100);
      return payload;
    };
    const counts = await runWorkerLoop({
      queue,
      handler,
      concurrency: 2,
      leaseSeconds: 30,
      stop: stop.signal,
      graceSeconds: () => 10,
    });
    expect(slowStarted).toHaveLength(2);
    expect(counts).toMatchObject({ done: 22, failed: 0, lost: 0 });
    expect(counts.released).toBeGreaterThan(0);
    expect(queue.stats()).toEqual({ pending: 78, leased: 0, done: 22, failed: 0 });
    expect(queue.takeMany(100).every((job) => job.attempt === 1)).toBe(true);
    queue.close();
  });

  it('past the grace period, interrupts running jobs through their signal and gives them back', async () => {
    const queue = new WorkQueue<number>(tempDir('loop-grace'));
    queue.putMany([1, 2]);
    const stop = new AbortController();
    let running = 0;
    let bothRunning!: () => void;
    const started = new Promise<void>((resolve) => (bothRunning = resolve));
    const handler = async (_payload: number, job: JobContext) => {
      if (++running === 2) bothRunning();
      await Promise.race([sleep(60_000), abortedWith(job.signal)]);
      throw job.signal.reason;
    };
    const loop = runWorkerLoop({
      queue,
      handler,
      concurrency: 2,
      leaseSeconds: 30,
      stop: stop.signal,
      graceSeconds: () => 0.2,
    });
    await started; // both jobs run (not merely prefetched) when the stop comes
    stop.abort();
    const counts = await loop;
    expect(counts).toMatchObject({ done: 0, failed: 0, retried: 0, released: 2 });
    expect(queue.stats()).toEqual({ pending: 2, leased: 0, done: 0, failed: 0 });
    queue.close();
  });
});
