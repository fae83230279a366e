/**
 * worker-loop: the work one runner child does. It leases jobs in batches, runs up to
 * `concurrency` of them at once (in taken order), extends every lease it holds on a heartbeat, acks
 * the jobs that complete in the same tick in one transaction, and on stop releases what has not
 * started and gives running jobs a grace period. A job that runs past `jobTimeoutSeconds` fails
 * with JobTimeoutError (its signal aborted, its slot freed; the handler's promise is abandoned).
 * It knows nothing of processes or IPC (child.ts does; it learns what the loop holds through
 * `tracker`), nor of the backend: it works only through the AsyncWorkQueue interface (SQLite or
 * Redis). Settling is asynchronous: the jobs that complete while an ack is on its way are acked
 * together by the next one, so a batch costs one transaction or one script call.
 *
 * Prefetch: a child holds `concurrency` running jobs plus a buffer sized to about PREFETCH_SECONDS
 * of work at the measured speed (0 for slow jobs, up to MAX_PREFETCH for trivial ones). Claiming
 * many jobs per commit is what makes small jobs fast; keeping the buffer small for slow jobs keeps
 * one child from sitting on work that an idle child could run.
 */
import { checkTag } from '../cache/checks.js';
import { AbortError, JobTimeoutError, LeaseLostError, retryInSecondsOf } from '../cache/errors.js';
import type { Tag } from '../cache/types.js';
import { sleep } from '../cache/waiting.js';
import type {
  AsyncAckItem,
  AsyncJob,
  AsyncWorkQueue,
  LeaseId,
} from '../collections/async-work-queue.js';
import type { JobContext, JobHandler, ResultTagger } from './handler.js';

/** Seconds of work (at the measured speed) a child keeps leased beyond what it runs. */
const PREFETCH_SECONDS = 0.02;
/**
 * Most jobs a child keeps leased beyond what it runs (reached only by jobs shorter than about
 * 0.15 ms at concurrency 8). Each batch costs a take, an ack and a few reports to the parent,
 * each a write that wakes another process: on a loaded machine those wake-ups, not the jobs, set
 * the pace, so trivial jobs go in batches of about a thousand (one take script or transaction of
 * a few milliseconds, like putMany's chunks).
 */
const MAX_PREFETCH = 1024;
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
  /** Jobs that ran past `jobTimeoutSeconds` (also counted in `failed` or `retried`). */
  timedOut: number;
}

/**
 * Told, synchronously, what the loop holds: a supervisor that keeps this in another process knows
 * which leases a dead worker held (the runner's child reports it to the parent).
 */
export interface JobTracker {
  /** Jobs just leased, in the order they will start (called before any of them starts). */
  taken(jobs: readonly LeaseId[]): void;
  /** The next job in taken order is starting (or being skipped, if its lease is already gone). */
  started(): void;
  /** The loop no longer holds this job's lease (settled, given back, or lost). */
  ended(job: LeaseId): void;
}

/** Options of `runWorkerLoop`. */
export interface WorkerLoopOptions<T = unknown> {
  readonly queue: AsyncWorkQueue<T>;
  readonly handler: JobHandler<T>;
  /** Jobs run at once. */
  readonly concurrency: number;
  /** Lease length, in seconds; the heartbeat extends held leases every third of it. */
  readonly leaseSeconds: number;
  /** Aborting it stops taking work and starts the grace period. */
  readonly stop: AbortSignal;
  /** Seconds that running jobs get to finish after `stop` (read when stop aborts). */
  readonly graceSeconds: () => number;
  /**
   * Seconds a job may run before it fails with JobTimeoutError (its signal aborted with that
   * error); the handler's promise is then abandoned. @default no timeout
   */
  readonly jobTimeoutSeconds?: number;
  /** Whether `jobTimeoutSeconds` applies to a job; one it does not apply to times itself. @default all */
  readonly isTimed?: (job: AsyncJob<T>) => boolean;
  /** Updated as the loop goes (read it any time); the loop's result is this object. */
  readonly counts?: WorkerCounts;
  /** Told what the loop takes, starts and lets go of. */
  readonly tracker?: JobTracker;
  /** Unexpected errors (not the handler's: those fail the job). @default writes to stderr */
  readonly onError?: (error: unknown) => void;
  /**
   * Whether a completed job keeps its slot until its ack is written, so that at most
   * `concurrency` jobs are running or done-but-not-acked (what a crash makes run again). Without
   * it, the slot is free at once and the ack follows in the next batch (faster for short jobs).
   * @default false
   */
  readonly holdSlotUntilAcked?: boolean;
  /**
   * The tag each result is stored with (the handler module's `resultTag` export): called with
   * every result but `undefined`. What it throws, or a value that is not a tag, is reported and
   * the result is stored without a tag.
   */
  readonly resultTag?: ResultTagger;
}

interface Held<T> {
  readonly job: AsyncJob<T>;
  /** Created when the handler first reads `job.signal` (most never do; a controller costs µs). */
  controller: AbortController | undefined;
  /** Why the job must stop, if it must: given to the signal even if it is created later. */
  abortReason: unknown;
  started: boolean;
  lost: boolean;
  /** Aborted because the worker is stopping: a throw then means "interrupted", not "failed". */
  interrupted: boolean;
  /** Completed: its ack is pending or on its way (and says whether the lease was lost). */
  completed: boolean;
}

/** What a timed-out race resolves with. */
const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Whether an ack failed because of the result itself (it cannot be stored: a function, a symbol…),
 * not because of the database: such a job fails alone with that error.
 */
function isUnstorableResult(error: unknown): boolean {
  // The stores reject such a value with a TypeError; a database problem is never one.
  return error instanceof TypeError;
}

/** A completed job and its result (and its tag, if it has one), as ackMany takes it. */
type Completion<T> = {
  readonly job: AsyncJob<T>;
  readonly result: unknown;
  readonly tag?: Tag;
};

function jobOf<T>(item: Completion<T>): AsyncJob<T> {
  return item.job;
}

/**
 * The handler's view of a job; `signal` is made on first use. (A class: its getter lives on the
 * prototype, where an object literal's getter would be defined again for every job.)
 */
class Context<T> implements JobContext {
  readonly id: number;
  readonly key: string | undefined;
  readonly attempt: number;
  readonly #entry: Held<T>;

  constructor(entry: Held<T>) {
    const { job } = entry;
    this.id = job.id;
    this.key = job.key;
    this.attempt = job.attempt;
    this.#entry = entry;
  }

  get signal(): AbortSignal {
    const entry = this.#entry;
    if (entry.controller === undefined) {
      entry.controller = new AbortController();
      if (entry.abortReason !== undefined) entry.controller.abort(entry.abortReason);
    }
    return entry.controller.signal;
  }
}

function abortJob<T>(entry: Held<T>, reason: unknown): void {
  entry.abortReason ??= reason;
  entry.controller?.abort(reason);
}

/** Counts all at zero. */
export function emptyCounts(): WorkerCounts {
  return { done: 0, failed: 0, retried: 0, lost: 0, released: 0, timedOut: 0 };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, { signal, resolveOnAbort: true });
}

/** Runs jobs until `stop` aborts and the grace period ends; resolves with what it did. */
export async function runWorkerLoop<T>(options: WorkerLoopOptions<T>): Promise<WorkerCounts> {
  const { queue, handler, concurrency, leaseSeconds, stop, tracker } = options;
  const timeoutMs =
    options.jobTimeoutSeconds === undefined ? undefined : options.jobTimeoutSeconds * 1000;
  const report =
    options.onError ??
    ((error: unknown) =>
      process.stderr.write(
        `diskcache worker ${process.pid}: ${(error as Error)?.stack ?? String(error)}\n`,
      ));
  const counts: WorkerCounts = options.counts ?? emptyCounts();
  const { resultTag } = options;
  /** The result's tag, or undefined (reported) when `resultTag` throws or returns no tag. */
  const tagOf = (result: unknown): Tag | undefined => {
    try {
      const tag = resultTag!(result);
      return tag === undefined ? undefined : checkTag('resultTag(result)', tag);
    } catch (error) {
      report(error);
      return undefined;
    }
  };
  /**
   * The jobs waiting for a slot, in taken order, from `nextToStart` on; `running` of them run.
   * (A plain FIFO, not a general task queue: a no-op job costs a few microseconds in all, so
   * every promise and event per job shows.)
   */
  let toStart: (Held<T> | undefined)[] = [];
  let nextToStart = 0;
  let running = 0;
  /** Resolved when nothing runs and nothing waits for a slot (see `idle`). */
  let idleWaiters: (() => void)[] = [];
  const held = new Map<AsyncJob<T>, Held<T>>();
  const completions: Completion<T>[] = [];
  /**
   * Held jobs that completed and whose ack is pending or on its way: they no longer need a slot,
   * so the next take does not wait for their ack (the two script calls or transactions overlap).
   */
  let completing = 0;
  /** Acks and failures on their way to the queue (awaited before the loop returns). */
  const settling = new Set<Promise<void>>();
  let flushScheduled = false;
  /** With holdSlotUntilAcked: the jobs whose slot waits for their ack, and what frees it. */
  const ackWaiters = new Map<AsyncJob<T>, () => void>();
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

  /** Runs `work` in the background, reporting its failure, until `drained()` awaits it. */
  const track = (work: Promise<void>) => {
    const tracked = work.catch(report).finally(() => settling.delete(tracked));
    settling.add(tracked);
  };

  const drained = async () => {
    while (settling.size > 0) await Promise.all(settling);
  };

  const prefetch = () =>
    averageSeconds === undefined
      ? 0
      : Math.min(
          MAX_PREFETCH,
          Math.round((concurrency * PREFETCH_SECONDS) / Math.max(averageSeconds, 1e-6)),
        );

  /** Counts acked and lost jobs of an ack, and forgets them. */
  const acked = (batch: readonly Completion<T>[], lost: ReadonlySet<AsyncJob<T>>) => {
    for (const item of batch) {
      const job = jobOf(item);
      // A job the heartbeat already found lost was counted then.
      if (!drop(job)) continue;
      if (lost.has(job)) counts.lost++;
      else counts.done++;
    }
  };

  /** Acks `batch` in one step (one transaction or one script call). */
  const ackBatch = async (batch: Completion<T>[]) => {
    try {
      acked(batch, new Set(await queue.ackMany(batch as AsyncAckItem<T>[])));
    } catch (error) {
      if (!isUnstorableResult(error)) {
        // Not acked: the leases run out and the jobs run again (at-least-once).
        report(error);
        acked(batch, new Set(batch.map(jobOf)));
      } else {
        // A result that cannot be stored refuses the whole batch: ack the jobs one by one,
        // and fail the one whose result is refused, alone, with the error that refused it.
        for (const item of batch) {
          try {
            acked([item], new Set(await queue.ackMany([item])));
          } catch (itemError) {
            const entry = held.get(jobOf(item));
            if (entry !== undefined && isUnstorableResult(itemError))
              await settleFailure(entry, itemError);
            else {
              report(itemError);
              acked([item], new Set([jobOf(item)]));
            }
          }
        }
      }
    }
  };

  /** Acks every job completed since the last flush; the jobs completing meanwhile wait for the next. */
  const flush = () => {
    flushScheduled = false;
    if (completions.length === 0) return;
    const batch = completions.splice(0);
    track(
      ackBatch(batch).finally(() => {
        completing -= batch.length;
        for (const item of batch) {
          const job = jobOf(item);
          ackWaiters.get(job)?.();
          ackWaiters.delete(job);
        }
        changed();
      }),
    );
    // Their slots are free now: the loop may take the next batch while this ack is on its way.
    changed();
  };

  /** Forgets a held job; false when it was not held (already counted). */
  const drop = (job: AsyncJob<T>): boolean => {
    if (!held.delete(job)) return false;
    tracker?.ended(job);
    return true;
  };

  const settleFailure = async (entry: Held<T>, error: unknown) => {
    try {
      // A handler may name the wait before its retry (RetryLaterError); undefined: the backoff.
      const retryInSeconds = retryInSecondsOf(error);
      if ((await queue.fail(entry.job, error, { retryInSeconds })) === 'failed') counts.failed++;
      else counts.retried++;
    } catch (failure) {
      if (failure instanceof LeaseLostError) counts.lost++;
      else report(failure);
    }
    drop(entry.job);
    changed();
  };

  const runJob = async (entry: Held<T>) => {
    tracker?.started();
    if (entry.lost) return;
    entry.started = true;
    const { job } = entry;
    const began = performance.now();
    let result: unknown;
    let threw = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = handler(job.payload, new Context(entry));
      if (timeoutMs === undefined || options.isTimed?.(job) === false) result = await outcome;
      else {
        const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
          timer = setTimeout(resolve, timeoutMs, TIMED_OUT);
        });
        result = await Promise.race([outcome, deadline]);
        if (result === TIMED_OUT) {
          threw = true;
          counts.timedOut++;
          result = new JobTimeoutError(
            `job ${job.id} ran past its timeout of ${options.jobTimeoutSeconds} s (attempt ${job.attempt})`,
          );
          abortJob(entry, result);
        }
      }
    } catch (error) {
      threw = true;
      result = error;
      if (error instanceof JobTimeoutError) counts.timedOut++;
    } finally {
      clearTimeout(timer);
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
      // The slot is free once the failure is recorded (as for a completed job's ack, which
      // the next flush records): the failure is awaited before the loop returns.
      track(settleFailure(entry, result));
      return;
    }
    entry.completed = true;
    completions.push(
      resultTag === undefined || result === undefined
        ? { job, result }
        : { job, result, tag: tagOf(result) },
    );
    completing++;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
    if (options.holdSlotUntilAcked)
      await new Promise<void>((resolve) => ackWaiters.set(job, resolve));
  };

  let extending = false;
  const extendHeld = async () => {
    extending = true;
    try {
      const lost = await queue.extendMany([...held.keys()], leaseSeconds);
      for (const job of lost) {
        const entry = held.get(job);
        // A completed job's ack counts it (its ack may have committed since this extension read).
        if (entry === undefined || entry.completed) continue;
        drop(job);
        entry.lost = true;
        counts.lost++;
        abortJob(entry, new LeaseLostError(`the lease of job ${job.id} was lost`));
      }
      if (lost.length > 0) changed();
    } catch (error) {
      report(error);
    } finally {
      extending = false;
    }
  };
  const heartbeat = setInterval(
    () => {
      // One extension at a time: a slow backend must not pile them up.
      if (held.size > 0 && !extending) void extendHeld();
    },
    Math.max(10, (leaseSeconds * 1000) / 3),
  );

  const hold = (jobs: AsyncJob<T>[]) => {
    tracker?.taken(jobs);
    for (const job of jobs) {
      const entry: Held<T> = {
        job,
        controller: undefined,
        abortReason: undefined,
        started: false,
        lost: false,
        interrupted: false,
        completed: false,
      };
      held.set(job, entry);
      toStart.push(entry);
    }
    startJobs();
  };

  /** A slot is free again. */
  const slotFreed = () => {
    running--;
    startJobs();
  };
  const slotFailed = (error: unknown) => {
    report(error);
    slotFreed();
  };

  /** Starts waiting jobs while slots are free. */
  function startJobs(): void {
    while (running < concurrency && nextToStart < toStart.length) {
      const entry = toStart[nextToStart]!;
      toStart[nextToStart++] = undefined; // let it be collected once settled
      running++;
      runJob(entry).then(slotFreed, slotFailed);
    }
    if (nextToStart === toStart.length && nextToStart > 0) {
      toStart = [];
      nextToStart = 0;
    }
    if (running === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves when no job runs and none waits for a slot. */
  const idle = () =>
    running === 0 && nextToStart === toStart.length
      ? Promise.resolve()
      : new Promise<void>((resolve) => idleWaiters.push(resolve));

  /** Forgets the jobs waiting for a slot (they never start here). */
  const clearWaiting = () => {
    toStart = [];
    nextToStart = 0;
  };

  try {
    while (!stop.aborted) {
      const wanted = concurrency + prefetch() - (held.size - completing);
      if (wanted <= 0) {
        await waitForChange();
        continue;
      }
      try {
        let jobs = await queue.takeMany(wanted, { leaseSeconds });
        if (jobs.length === 0) {
          const first = await queue.next({ signal: stop, leaseSeconds });
          if (first === undefined) continue;
          jobs = [first];
          if (wanted > 1) jobs.push(...(await queue.takeMany(wanted - 1, { leaseSeconds })));
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

  /** Gives back the leases of `entries` (never to be run here) without charging an attempt. */
  async function giveBack(entries: Held<T>[]): Promise<void> {
    for (const entry of entries) {
      drop(entry.job);
      entry.lost = true; // never run it (or settle it) here
    }
    if (entries.length === 0) return;
    try {
      const lost = await queue.releaseMany(entries.map((entry) => entry.job));
      counts.released += entries.length - lost.length;
    } catch (error) {
      report(error);
    }
  }

  async function shutDown(): Promise<void> {
    // Give back what has not started: another worker can run it now, not after its lease.
    const unstarted = [...held.values()].filter((entry) => !entry.started);
    clearWaiting();
    await giveBack(unstarted);
    await Promise.race([idle(), delay(options.graceSeconds() * 1000)]);
    flush();
    await drained();
    if (held.size > 0) {
      // Out of time: tell the handlers, give them a moment, then give their jobs back.
      for (const entry of held.values()) {
        entry.interrupted = true;
        abortJob(entry, new AbortError('the worker is stopping'));
      }
      await Promise.race([idle(), delay(1000)]);
      flush();
      await drained();
      await giveBack([...held.values()]);
    }
    clearInterval(heartbeat);
    while (extending) await delay(5);
  }
}
