/**
 * worker-loop: the work one runner child does. It leases jobs in batches, runs up to
 * `concurrency` of them at once with p-queue, extends every lease it holds on a heartbeat, acks
 * the jobs that complete in the same tick in one transaction, and on stop releases what has not
 * started and gives running jobs a grace period. It knows nothing of processes or IPC (child.ts
 * does), so it could run in any process that has a WorkQueue.
 *
 * Prefetch: a child holds `concurrency` running jobs plus a buffer sized to about PREFETCH_SECONDS
 * of work at the measured speed (0 for slow jobs, up to MAX_PREFETCH for trivial ones). Claiming
 * many jobs per commit is what makes small jobs fast; keeping the buffer small for slow jobs keeps
 * one child from sitting on work that an idle child could run.
 */
import PQueue from 'p-queue';
import { AbortError, LeaseLostError } from '../cache/errors.js';
import { sleep } from '../cache/waiting.js';
import type { AckItem, Job, WorkQueue } from '../collections/work-queue.js';
import type { JobContext, JobHandler } from './handler.js';

/** Seconds of work (at the measured speed) a child keeps leased beyond what it runs. */
const PREFETCH_SECONDS = 0.02;
/** Most jobs a child keeps leased beyond what it runs. */
const MAX_PREFETCH = 256;
/** Weight of the newest handler duration in the running average. */
const SMOOTHING = 0.2;
/** Pause after an unexpected queue error (a disk problem, a lock timeout) before trying again. */
const ERROR_PAUSE_MS = 1000;

/** What one worker did (cumulative). */
export interface WorkerCounts {
  /** Jobs acked. */
  done: number;
  /** Jobs whose handler threw on their last attempt (moved to the failed list). */
  failed: number;
  /** Jobs whose handler threw with attempts left (back to pending after a backoff). */
  retried: number;
  /** Jobs whose lease was lost before they could be settled (someone else has them). */
  lost: number;
  /** Jobs given back unstarted when the worker stopped. */
  released: number;
}

/** Options of `runWorkerLoop`. */
export interface WorkerLoopOptions<T = unknown> {
  readonly queue: WorkQueue<T>;
  readonly handler: JobHandler<T>;
  /** Jobs run at once. */
  readonly concurrency: number;
  /** Lease length, in seconds; the heartbeat extends held leases every third of it. */
  readonly leaseSeconds: number;
  /** Aborting it stops taking work and starts the grace period. */
  readonly stop: AbortSignal;
  /** Seconds that running jobs get to finish after `stop` (read when stop aborts). */
  readonly graceSeconds: () => number;
  /** Updated as the loop goes (read it any time); the loop's result is this object. */
  readonly counts?: WorkerCounts;
  /** Unexpected errors (not the handler's: those fail the job). @default writes to stderr */
  readonly onError?: (error: unknown) => void;
}

interface Held<T> {
  readonly job: Job<T>;
  /** Created when the handler first reads `job.signal` (most never do; a controller costs µs). */
  controller: AbortController | undefined;
  /** Why the job must stop, if it must: given to the signal even if it is created later. */
  abortReason: unknown;
  started: boolean;
  lost: boolean;
  /** Aborted because the worker is stopping: a throw then means "interrupted", not "failed". */
  interrupted: boolean;
}

/** The handler's view of a job; `signal` is made on first use. */
function contextOf<T>(entry: Held<T>): JobContext {
  const { job } = entry;
  return {
    id: job.id,
    key: job.key,
    attempt: job.attempt,
    get signal() {
      if (entry.controller === undefined) {
        entry.controller = new AbortController();
        if (entry.abortReason !== undefined) entry.controller.abort(entry.abortReason);
      }
      return entry.controller.signal;
    },
  };
}

function abortJob<T>(entry: Held<T>, reason: unknown): void {
  entry.abortReason ??= reason;
  entry.controller?.abort(reason);
}

/** Counts all at zero. */
export function emptyCounts(): WorkerCounts {
  return { done: 0, failed: 0, retried: 0, lost: 0, released: 0 };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, { signal, resolveOnAbort: true });
}

/** Runs jobs until `stop` aborts and the grace period ends; resolves with what it did. */
export async function runWorkerLoop<T>(options: WorkerLoopOptions<T>): Promise<WorkerCounts> {
  const { queue, handler, concurrency, leaseSeconds, stop } = options;
  const report =
    options.onError ??
    ((error: unknown) =>
      process.stderr.write(
        `diskcache worker ${process.pid}: ${(error as Error)?.stack ?? String(error)}\n`,
      ));
  const counts: WorkerCounts = options.counts ?? emptyCounts();
  const pool = new PQueue({ concurrency });
  const held = new Map<Job<T>, Held<T>>();
  const completions: AckItem<T>[] = [];
  let flushScheduled = false;
  let averageSeconds: number | undefined;
  let wake: (() => void) | undefined;

  const changed = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };

  const waitForChange = () =>
    new Promise<void>((resolve) => {
      if (stop.aborted) return resolve();
      const done = () => {
        stop.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      };
      wake = done;
      stop.addEventListener('abort', done, { once: true });
    });

  const prefetch = () =>
    averageSeconds === undefined
      ? 0
      : Math.min(
          MAX_PREFETCH,
          Math.round((concurrency * PREFETCH_SECONDS) / Math.max(averageSeconds, 1e-6)),
        );

  /** Acks every job completed since the last flush, in one transaction. */
  const flush = () => {
    flushScheduled = false;
    if (completions.length === 0) return;
    const batch = completions.splice(0);
    let lost: ReadonlySet<Job<T>>;
    try {
      lost = new Set(queue.ackMany(batch));
    } catch (error) {
      // Not acked: the leases run out and the jobs run again (at-least-once).
      report(error);
      lost = new Set(batch.map((item) => (item as { job: Job<T> }).job));
    }
    for (const item of batch) {
      const { job } = item as { job: Job<T> };
      // A job the heartbeat already found lost was counted then.
      if (!held.delete(job)) continue;
      if (lost.has(job)) counts.lost++;
      else counts.done++;
    }
    changed();
  };

  const settleFailure = (entry: Held<T>, error: unknown) => {
    held.delete(entry.job);
    try {
      if (entry.job.fail(error) === 'failed') counts.failed++;
      else counts.retried++;
    } catch (failure) {
      if (failure instanceof LeaseLostError) counts.lost++;
      else report(failure);
    }
    changed();
  };

  const runJob = async (entry: Held<T>) => {
    if (entry.lost) return;
    entry.started = true;
    const { job } = entry;
    const began = performance.now();
    let result: unknown;
    let threw = false;
    try {
      result = await handler(job.payload, contextOf(entry));
    } catch (error) {
      threw = true;
      result = error;
    }
    const seconds = (performance.now() - began) / 1000;
    averageSeconds =
      averageSeconds === undefined
        ? seconds
        : averageSeconds + SMOOTHING * (seconds - averageSeconds);
    if (entry.lost) return; // the heartbeat found the lease gone and counted it
    if (threw) {
      // Interrupted by the stop: shutDown gives the job back instead of failing it.
      if (entry.interrupted) return;
      settleFailure(entry, result);
      return;
    }
    completions.push({ job, result });
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };

  const heartbeat = setInterval(
    () => {
      if (held.size === 0) return;
      let lost: Job<T>[];
      try {
        lost = queue.extendMany(held.keys(), leaseSeconds);
      } catch (error) {
        report(error);
        return;
      }
      for (const job of lost) {
        const entry = held.get(job);
        if (entry === undefined) continue;
        held.delete(job);
        entry.lost = true;
        counts.lost++;
        abortJob(entry, new LeaseLostError(`the lease of job ${job.id} was lost`));
      }
      if (lost.length > 0) changed();
    },
    Math.max(10, (leaseSeconds * 1000) / 3),
  );

  const hold = (jobs: Job<T>[]) => {
    for (const job of jobs) {
      const entry: Held<T> = {
        job,
        controller: undefined,
        abortReason: undefined,
        started: false,
        lost: false,
        interrupted: false,
      };
      held.set(job, entry);
      pool.add(() => runJob(entry)).catch(report);
    }
  };

  try {
    while (!stop.aborted) {
      const wanted = concurrency + prefetch() - held.size;
      if (wanted <= 0) {
        await waitForChange();
        continue;
      }
      try {
        let jobs = queue.takeMany(wanted, { leaseSeconds });
        if (jobs.length === 0) {
          const first = await queue.next({ signal: stop, leaseSeconds });
          if (first === undefined) continue;
          jobs = [first, ...queue.takeMany(wanted - 1, { leaseSeconds })];
        }
        hold(jobs);
      } catch (error) {
        if (error instanceof AbortError) break;
        report(error);
        await delay(ERROR_PAUSE_MS, stop);
      }
      // Let the jobs just taken start before deciding whether to take more.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await shutDown();
  }
  return counts;

  async function shutDown(): Promise<void> {
    // Give back what has not started: another worker can run it now, not after its lease.
    const unstarted = [...held.values()].filter((entry) => !entry.started);
    pool.clear();
    for (const entry of unstarted) {
      held.delete(entry.job);
      entry.lost = true; // never run it
    }
    try {
      const lost = queue.releaseMany(unstarted.map((entry) => entry.job));
      counts.released += unstarted.length - lost.length;
    } catch (error) {
      report(error);
    }
    await Promise.race([pool.onIdle(), delay(options.graceSeconds() * 1000)]);
    flush();
    if (held.size > 0) {
      // Out of time: tell the handlers, give them a moment, then give their jobs back.
      for (const entry of held.values()) {
        entry.interrupted = true;
        abortJob(entry, new AbortError('the worker is stopping'));
      }
      await Promise.race([pool.onIdle(), delay(1000)]);
      flush();
      const running = [...held.values()];
      held.clear();
      for (const entry of running) entry.lost = true;
      try {
        const lost = queue.releaseMany(running.map((entry) => entry.job));
        counts.released += running.length - lost.length;
      } catch (error) {
        report(error);
      }
    }
    clearInterval(heartbeat);
  }
}
