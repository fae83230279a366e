/**
 * The worker loop in this process (what each runner child runs): a lost lease aborts the
 * handler's signal and its result is dropped; a stop gives back unstarted jobs at once, lets
 * running ones finish, and past the grace period interrupts them and gives them back; a job past
 * its timeout fails with JobTimeoutError; a result that cannot be stored fails its job alone; the
 * tracker hears of every lease taken, started and let go; a heartbeat that meets a job whose ack
 * already committed leaves the count to the ack; a handler's RetryLaterError sets the wait before
 * the retry.
 */
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { JobTimeoutError, RetryLaterError } from '../../src/cache/errors.js';
import type { LeaseId } from '../../src/collections/async-work-queue.js';
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
      queue: queue.async,
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
      queue: queue.async,
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
      queue: queue.async,
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

  it('fails a job that runs past jobTimeoutSeconds with JobTimeoutError, aborting its signal', async () => {
    const queue = new WorkQueue<string>(tempDir('loop-timeout'), { maxAttempts: 1 });
    queue.putMany(['hang', 'quick']);
    const stop = new AbortController();
    const reasons: unknown[] = [];
    const handler = async (payload: string, job: JobContext) => {
      if (payload === 'quick') return 'done';
      reasons.push(await abortedWith(job.signal));
      setTimeout(() => stop.abort(), 50);
      return new Promise(() => {}); // ignores the abort: abandoned
    };
    const counts = await runWorkerLoop({
      queue: queue.async,
      handler,
      concurrency: 2,
      leaseSeconds: 30,
      jobTimeoutSeconds: 0.3,
      stop: stop.signal,
      graceSeconds: () => 5,
    });
    expect(counts).toMatchObject({ done: 1, failed: 1, timedOut: 1 });
    expect(reasons[0]).toBeInstanceOf(JobTimeoutError);
    const [failed] = queue.failed();
    expect(failed!.error).toMatch(
      /^JobTimeoutError: job 1 ran past its timeout of 0.3 s \(attempt 1\)/,
    );
    queue.close();
  });

  it('retries a job after the wait its handler names (RetryLaterError), not after the backoff', async () => {
    const directory = tempDir('loop-retry-later');
    // An hour of backoff: a retry that comes at once can only be the handler's wait.
    const queue = new WorkQueue<string>(directory, { backoffSeconds: 3600, maxAttempts: 3 });
    queue.putMany(['now', 'later', 'plain']);
    const stop = new AbortController();
    const attempts: string[] = [];
    const handler = async (payload: string, job: JobContext) => {
      attempts.push(`${payload} ${job.attempt}`);
      if (payload === 'now' && job.attempt === 1) throw new RetryLaterError('busy', 0);
      if (payload === 'later')
        // Any error with its own retryInSeconds (one that crossed a process) counts as well.
        throw Object.assign(new Error('quota'), { retryInSeconds: 30 });
      if (payload === 'plain') throw new Error('plain failure');
      setTimeout(() => stop.abort(), 50);
      return 'done';
    };
    const before = Date.now() / 1000;
    // Without the handler's wait, 'now' would sit out the hour: end the loop anyway, and fail.
    const deadline = setTimeout(() => stop.abort(), 10_000);
    const counts = await runWorkerLoop({
      queue: queue.async,
      handler,
      concurrency: 1,
      leaseSeconds: 30,
      stop: stop.signal,
      graceSeconds: () => 5,
    });
    clearTimeout(deadline);
    expect(counts).toMatchObject({ done: 1, retried: 3, failed: 0 });
    expect(attempts.sort()).toEqual(['later 1', 'now 1', 'now 2', 'plain 1']);
    const db = new Database(path.join(directory, 'cache.db'), { readonly: true });
    const availableAt = (payloadId: number) =>
      (
        db
          .prepare('SELECT available_at FROM WorkQueue_jobs WHERE id = ?')
          .get(BigInt(payloadId)) as {
          available_at: number;
        }
      ).available_at - before;
    expect(availableAt(2)).toBeGreaterThanOrEqual(29);
    expect(availableAt(2)).toBeLessThan(60); // 30 s, not the hour of backoff
    expect(availableAt(3)).toBeGreaterThan(3000); // no wait named: the queue's backoff
    db.close();
    queue.close();
  });

  it('RetryLaterError refuses a wait that is not a finite number of seconds >= 0', () => {
    expect(() => new RetryLaterError('x', -1)).toThrow(
      new RangeError('retryInSeconds must be a finite number of seconds >= 0, got -1'),
    );
    expect(() => new RetryLaterError('x', Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => new RetryLaterError('x', '5' as unknown as number)).toThrow(
      new TypeError('retryInSeconds must be a number of seconds, got "5"'),
    );
    expect(() => new RetryLaterError('x', Number.NaN)).toThrow(TypeError);
    const error = new RetryLaterError('busy', 2.5, { cause: 'c' });
    expect(error).toMatchObject({ name: 'RetryLaterError', message: 'busy', retryInSeconds: 2.5 });
    expect(error.cause).toBe('c');
  });

  it('fails alone, with the TypeError, a job whose result cannot be stored; its batch is acked', async () => {
    const queue = new WorkQueue<number>(tempDir('loop-unstorable'), { maxAttempts: 1 });
    queue.putMany([1, 2, 3, 4]);
    const stop = new AbortController();
    const handler = (payload: number) => {
      if (payload === 4) setTimeout(() => stop.abort(), 100);
      return payload === 2 ? () => payload : payload;
    };
    const counts = await runWorkerLoop({
      queue: queue.async,
      handler,
      concurrency: 4,
      leaseSeconds: 30,
      stop: stop.signal,
      graceSeconds: () => 5,
    });
    expect(counts).toMatchObject({ done: 3, failed: 1, lost: 0 });
    expect(queue.stats()).toEqual({ pending: 0, leased: 0, done: 3, failed: 1 });
    expect(queue.failed()[0]!.error).toMatch(
      /^TypeError: invalid value: a function cannot be stored/,
    );
    expect([...queue.results.keys()].sort()).toEqual([1, 3, 4]);
    queue.close();
  });

  it('tells its tracker every lease it takes (before they start), starts and lets go of', async () => {
    const queue = new WorkQueue<number>(tempDir('loop-tracker'));
    queue.putMany([1, 2, 3]);
    const stop = new AbortController();
    const events: string[] = [];
    const handler = (payload: number) => {
      events.push(`run ${payload}`);
      if (payload === 3) setTimeout(() => stop.abort(), 50);
      return payload;
    };
    await runWorkerLoop({
      queue: queue.async,
      handler,
      concurrency: 1,
      leaseSeconds: 30,
      stop: stop.signal,
      graceSeconds: () => 5,
      tracker: {
        taken: (jobs: readonly LeaseId[]) => events.push(`taken ${jobs.map((job) => job.id)}`),
        started: () => events.push('started'),
        ended: (job: LeaseId) => events.push(`ended ${job.id}`),
      },
    });
    const taken = events.filter((event) => event.startsWith('taken'));
    expect(taken.length).toBeGreaterThan(0);
    for (const id of [1, 2, 3]) {
      const takenAt = events.findIndex(
        (e) => e.startsWith('taken') && e.split(' ')[1]!.split(',').includes(String(id)),
      );
      expect(takenAt).toBeGreaterThanOrEqual(0);
      expect(takenAt).toBeLessThan(events.indexOf(`run ${id}`));
      expect(events.indexOf(`run ${id}`)).toBeLessThan(events.indexOf(`ended ${id}`));
    }
    expect(events.filter((event) => event === 'started')).toHaveLength(3);
    queue.close();
  });

  it('with holdSlotUntilAcked, never has more than concurrency jobs running or done but not acked', async () => {
    /** The most jobs that were running or done-but-not-acked at once, with and without it. */
    const peakUnacked = async (holdSlotUntilAcked: boolean) => {
      const queue = new WorkQueue<number>(tempDir('loop-hold-slot'));
      queue.putMany(Array.from({ length: 60 }, (_, i) => i));
      const inner = queue.async;
      let unacked = 0;
      let peak = 0;
      // Acks that take 20 ms (a busy disk): the window in which done jobs are not yet acked.
      const slowAcks = new Proxy(inner, {
        get(target, property) {
          if (property === 'ackMany')
            return async (items: Parameters<typeof inner.ackMany>[0]) => {
              const batch = [...items];
              await sleep(20);
              const lost = await target.ackMany(batch);
              unacked -= batch.length;
              return lost;
            };
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const stop = new AbortController();
      let finished = 0;
      const handler = async (payload: number) => {
        peak = Math.max(peak, ++unacked);
        await sleep(2);
        if (++finished === 60) setTimeout(() => stop.abort(), 100);
        return payload;
      };
      const counts = await runWorkerLoop({
        queue: slowAcks,
        handler,
        concurrency: 4,
        leaseSeconds: 30,
        stop: stop.signal,
        graceSeconds: () => 5,
        holdSlotUntilAcked,
      });
      expect(counts.done).toBe(60);
      expect(queue.stats()).toMatchObject({ done: 60, pending: 0, leased: 0 });
      queue.close();
      return peak;
    };
    expect(await peakUnacked(true)).toBeLessThanOrEqual(4);
    // The control: without it, jobs start while the done ones wait for their ack.
    expect(await peakUnacked(false)).toBeGreaterThan(4);
  });

  it('counts a job done, not lost, when a heartbeat extends it after its ack committed', async () => {
    const queue = new WorkQueue<number>(tempDir('loop-ack-heartbeat'));
    queue.putMany([1, 2, 3]);
    const real = queue.async;
    const stop = new AbortController();
    let extensions = 0;
    let lostByExtension = 0;
    // The real queue, except that an ack's reply (after its commit) waits for the next heartbeat:
    // the extension then meets jobs that are done but still held by the loop.
    const slowReplies = {
      takeMany: (max, options) => real.takeMany(max, options),
      next: (options) => real.next(options),
      fail: (job, error) => real.fail(job, error),
      releaseMany: (jobs) => real.releaseMany(jobs),
      async extendMany(jobs, seconds) {
        const lost = await real.extendMany(jobs, seconds);
        extensions++;
        lostByExtension += lost.length;
        return lost;
      },
      async ackMany(items) {
        const lost = await real.ackMany(items);
        const seen = extensions;
        while (extensions === seen) await sleep(5);
        if (queue.stats().done === 3) stop.abort();
        return lost;
      },
    } as Pick<typeof real, 'takeMany' | 'next' | 'fail' | 'releaseMany' | 'extendMany' | 'ackMany'>;
    const counts = await runWorkerLoop({
      queue: slowReplies as typeof real,
      handler: (payload: number) => payload * 2,
      concurrency: 1,
      leaseSeconds: 0.06, // a heartbeat every 20 ms
      stop: stop.signal,
      graceSeconds: () => 5,
    });
    expect(lostByExtension).toBeGreaterThan(0); // the race happened
    expect(counts).toMatchObject({ done: 3, lost: 0 });
    expect(queue.stats()).toMatchObject({ done: 3, leased: 0 });
    queue.close();
  });
});
