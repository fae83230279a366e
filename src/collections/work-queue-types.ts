/**
 * work-queue-types: the option and result types of WorkQueue's methods (the class is in
 * work-queue.ts, the Job in work-queue-job.ts). Types only: nothing here runs.
 */
import type { Seconds } from '../cache/checks.js';

/** Options of `put`. */
export interface PutOptions {
  /**
   * An idempotency key: while a job with this key exists (pending, leased, done or failed), another
   * `put` with the same key is ignored. Results of a keyed job are stored under its key.
   */
  readonly key?: string;
  /** Seconds before the job may be taken. @default 0 */
  readonly delaySeconds?: Seconds;
}

/** Options of `putMany`. */
export interface PutManyOptions<T> {
  /** Seconds before the jobs may be taken. @default 0 */
  readonly delaySeconds?: Seconds;
  /** The idempotency key of each payload (see `PutOptions.key`); `undefined` for none. */
  readonly key?: (payload: T, index: number) => string | undefined;
}

/** Options of `take` and `takeMany`. */
export interface TakeOptions {
  /** Lease length for this take, in seconds. @default the queue's `leaseSeconds` */
  readonly leaseSeconds?: Seconds;
}

/** Options of `next`. */
export interface NextOptions extends TakeOptions {
  /** Give up and resolve `undefined` after this many seconds. @default wait forever */
  readonly timeoutSeconds?: Seconds;
  /** Cancels the wait: `next` rejects with `AbortError`. */
  readonly signal?: AbortSignal;
}

/** Counts of jobs by state. `pending` includes delayed jobs and jobs waiting for a retry. */
export interface WorkQueueStats {
  readonly pending: number;
  /** Jobs held by a worker, including leases that expired but were not yet reclaimed. */
  readonly leased: number;
  readonly done: number;
  readonly failed: number;
}

/** A job in the failed list. */
export interface FailedJob<T = unknown> {
  readonly id: number;
  readonly key: string | undefined;
  readonly payload: T;
  /** How many times it was handed out. */
  readonly attempts: number;
  /** The last error: the `fail()` error's stack or message, or why the lease was lost. */
  readonly error: string;
  /** When it moved to the failed list, in epoch seconds. */
  readonly failedAt: number;
}
