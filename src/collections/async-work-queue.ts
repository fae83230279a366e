/**
 * async-work-queue: the one asynchronous work-queue interface, `AsyncWorkQueue<T>`, and the job
 * object it hands out, `AsyncJob<T>`. Every backend implements it: the SQLite `WorkQueue` through
 * an adapter (`workQueue.async`), Redis through `RedisWorkQueue` (`node-diskcache/redis`). The
 * runner, the CLI and `openQueue` work only through this interface, so they never know which
 * backend is underneath.
 *
 * The semantics are the SQLite WorkQueue's (see work-queue.ts and docs/work-queue.md): at-least-once
 * delivery with leases, a fencing token per lease, idempotent keys, delays, exponential backoff,
 * `maxAttempts` then the failed list. The batch forms (`takeMany`, `ackMany`, `extendMany`,
 * `releaseMany`) are what a fast worker uses: each is one transaction or one script call, so one
 * round trip per batch, not per job.
 *
 * This file holds types and the small AsyncJob class only: it must not know about any backend.
 */
import type { Tag } from '../cache/types.js';
import type { FailOptions, FailOutcome } from './work-queue-job.js';
import type { QueueSettings } from './work-queue-schema.js';
import type {
  FailedJob,
  NextOptions,
  PutManyOptions,
  PutOptions,
  TakeOptions,
  WorkQueueStats,
} from './work-queue-types.js';

export type { FailOptions, FailOutcome } from './work-queue-job.js';
export type { QueueSettings } from './work-queue-schema.js';
export type {
  FailedJob,
  NextOptions,
  PutManyOptions,
  PutOptions,
  TakeOptions,
  WorkQueueStats,
} from './work-queue-types.js';

/** The key a result is stored under: the job's idempotency key when it has one, else its id. */
export type ResultKey = string | number;

/**
 * An entry of `ackMany`: a job, or a job with the result to store and, optionally, the tag its
 * results entry gets in a directory queue (the row's tag, as `Cache.set`'s: `tagCounts()` of the
 * results' cache counts them without reading a result). A queue on Redis keeps no tags and
 * ignores it.
 */
export type AsyncAckItem<T> =
  | AsyncJob<T>
  | { readonly job: AsyncJob<T>; readonly result?: unknown; readonly tag?: Tag };

/** One lease named without its job object: the job's id and the attempt it was leased for. */
export interface LeaseId {
  readonly id: number;
  readonly attempt: number;
}

/** Options of `purgeDone`. */
export interface PurgeDoneOptions {
  /** Only done jobs finished at least this many seconds ago. @default 0 (every done job) */
  readonly olderThanSeconds?: number;
}

/** Options of `failed`. */
export interface FailedListOptions {
  /** At most this many jobs (the lowest ids first). @default all */
  readonly limit?: number;
}

/**
 * The results of acked jobs: an ordered map, shared by every process that opens the queue, in
 * insertion order (overwriting a key keeps its position). Values are anything `put` accepts as a
 * payload. Small on purpose: a read-mostly view for collecting what the workers produced.
 */
export interface AsyncResults<V = unknown> {
  /** The value under `key`, or `undefined`. */
  get(key: ResultKey): Promise<V | undefined>;
  /** Stores `value` under `key` (TypeError for `undefined`). */
  set(key: ResultKey, value: V): Promise<void>;
  has(key: ResultKey): Promise<boolean>;
  /** Removes `key`; resolves whether it was there. */
  delete(key: ResultKey): Promise<boolean>;
  /** How many results are stored. */
  size(): Promise<number>;
  /**
   * The keys in insertion order, read in pages: keys added during the iteration may or may not
   * be visited; keys removed meanwhile are skipped.
   */
  keys(): AsyncIterableIterator<ResultKey>;
  /** `[key, value]` pairs in insertion order (paged, as `keys()`). */
  entries(): AsyncIterableIterator<[ResultKey, V]>;
}

/**
 * A reliable job queue whose every method returns a promise. See the file header for the
 * guarantees; what each method does is documented once, here. Single-job settling methods
 * (`ack`, `fail`, `extend`, `release`) reject with `LeaseLostError` when the job's lease was lost
 * (its lease ran out and another worker took it, it is already settled, or it was purged); the
 * batch forms never reject for that reason and resolve with the jobs whose lease was lost (the
 * others succeeded). Every method rejects on a backend failure (a locked database past
 * `timeout`, a Redis outage); nothing is then changed, or the change is all-or-nothing.
 *
 * Not guaranteed: strict FIFO across workers (jobs are handed out in ready-time order, then id
 * order, but finish in any order); that an expired lease shows as pending in `stats()` before a
 * `take` reclaims it; exactly-once execution (a handler may run twice; an ack never counts twice).
 */
export interface AsyncWorkQueue<T = unknown> extends AsyncDisposable {
  /** Where the queue lives: a directory, or `redis://host:port/db#name` (as given to `openQueue`). */
  readonly locator: string;

  /**
   * Adds a job; resolves its id (increasing in put order), or `undefined` when `options.key` is
   * given and a job with that key exists (pending, leased, done or failed, until `purgeDone`).
   * @throws TypeError for an `undefined` payload or one the structured-clone algorithm refuses.
   */
  put(payload: T, options?: PutOptions): Promise<number | undefined>;
  /**
   * Adds many jobs at once, all or nothing; resolves their ids in order (`undefined` where the key
   * already existed, including an earlier payload of the same call with the same key).
   */
  putMany(payloads: Iterable<T>, options?: PutManyOptions<T>): Promise<(number | undefined)[]>;

  /** Leases the next ready job, or resolves `undefined` when none is ready. Never waits. */
  take(options?: TakeOptions): Promise<AsyncJob<T> | undefined>;
  /**
   * Leases up to `max` ready jobs in one step, in ready-time order (then id order); `[]` when
   * none is ready. Expired leases are reclaimed first (back to pending, or to the failed list when
   * their attempt was the last), so no coordinator or timer is needed. Never waits.
   */
  takeMany(max: number, options?: TakeOptions): Promise<AsyncJob<T>[]>;
  /**
   * Waits for a ready job and leases it. Wakes promptly when a job is put (in this process, or on
   * Redis by any process), when a delayed job becomes ready, and polls with a bounded backoff for
   * the rest (expired leases). Resolves `undefined` after `timeoutSeconds`; rejects with
   * `AbortError` when `signal` aborts.
   */
  next(options?: NextOptions): Promise<AsyncJob<T> | undefined>;

  /**
   * Marks the job done (its payload is dropped) and stores `result`, unless `undefined`, in
   * `results` under the job's key or id, in the same step.
   * @throws LeaseLostError when the lease was lost: nothing is changed.
   */
  ack(job: AsyncJob<T>, result?: unknown): Promise<void>;
  /** Acks many jobs in one step; resolves with the jobs whose lease was lost (not acked). */
  ackMany(items: Iterable<AsyncAckItem<T>>): Promise<AsyncJob<T>[]>;
  /**
   * Records a failure. With attempts left, the job goes back to pending after `retryInSeconds`
   * (default: the exponential backoff `backoffSeconds · 2^(attempt−1)`, at most an hour) and
   * this resolves `'retrying'`; on its last attempt it moves to the failed list (`'failed'`).
   * The error's stack (or message, or JSON) is kept, truncated to 8,000 characters.
   * @throws LeaseLostError when the lease was lost.
   */
  fail(job: AsyncJob<T>, error: unknown, options?: FailOptions): Promise<FailOutcome>;
  /**
   * Extends the lease to `seconds` from now (a heartbeat). An expired lease that nobody
   * reclaimed yet can still be extended. @default seconds: the queue's `leaseSeconds`
   * @throws LeaseLostError when the lease was lost.
   */
  extend(job: AsyncJob<T>, seconds?: number): Promise<void>;
  /** Extends many leases in one step; resolves with the jobs whose lease was lost. */
  extendMany(jobs: Iterable<AsyncJob<T>>, seconds?: number): Promise<AsyncJob<T>[]>;
  /**
   * Gives the job back to pending at once; the attempt does not count (for a worker that stops
   * before running it). @throws LeaseLostError when the lease was lost.
   */
  release(job: AsyncJob<T>): Promise<void>;
  /** Releases many jobs in one step; resolves with the jobs whose lease was lost. */
  releaseMany(jobs: Iterable<AsyncJob<T>>): Promise<AsyncJob<T>[]>;
  /**
   * Gives leases back to pending without charging their attempt, each named by its job's id and
   * the attempt it was leased for: for a supervisor whose worker process died holding them (it
   * has no job objects). A job settled, reclaimed or leased again since is left alone. Not fenced
   * by a lease token: name only leases whose holder is known to be gone. Resolves the ids given
   * back. @throws RangeError for an id or attempt that is not a positive integer.
   */
  releaseById(jobs: Iterable<LeaseId>): Promise<number[]>;

  /** Counts of jobs by state, taken atomically (on Redis: O(1)). */
  stats(): Promise<WorkQueueStats>;
  /** Whether nothing is pending (delayed jobs and waiting retries count) or leased. */
  isDrained(): Promise<boolean>;
  /** The failed list, in id order. */
  failed(options?: FailedListOptions): Promise<FailedJob<T>[]>;
  /** Moves every failed job back to pending with a fresh attempt count; resolves how many. */
  retryFailed(): Promise<number>;
  /**
   * Deletes done jobs (finished at least `olderThanSeconds` ago); resolves how many. Their keys
   * are forgotten, so a later `put` with one of them adds a new job. Results are kept.
   */
  purgeDone(options?: PurgeDoneOptions): Promise<number>;
  /** Results of acked jobs, under the job's key when it has one, else under its id. */
  readonly results: AsyncResults;

  /**
   * The options in force: given to this opener, else stored with the queue, else the defaults
   * (`leaseSeconds` 30, `maxAttempts` 3, `backoffSeconds` 1).
   */
  settings(): Promise<Readonly<QueueSettings>>;
  /**
   * The default wait before retrying after attempt `attempt` failed, in seconds. (On Redis, until
   * the first call has read the stored settings, it uses the options given and the defaults.)
   */
  backoffSeconds(attempt: number): number;
  /**
   * Releases this object's connections. Jobs still leased stay leased until their lease runs
   * out. Calling it again does nothing.
   */
  close(): Promise<void>;
}

/**
 * @internal What a backend knows about one lease of one AsyncJob object. `token` is opaque here
 * (a random string on Redis, a counter on SQLite); it never leaves the backend's module.
 */
export interface AsyncLease {
  readonly queue: AsyncWorkQueue<unknown>;
  readonly token: unknown;
  /** Lease expiry, epoch seconds (in the backend's clock). */
  expires: number;
  settled: boolean;
}

/** The lease of an AsyncJob, undefined for any other value (set by AsyncJob's static block). */
let leaseField: (job: unknown) => AsyncLease | undefined;

/**
 * @internal The lease of `job` if `queue` handed it out.
 * @throws TypeError for an object that no AsyncWorkQueue made, or one from another queue object.
 */
export function leaseOf(queue: AsyncWorkQueue<unknown>, job: AsyncJob<unknown>): AsyncLease {
  const lease = leaseField(job);
  if (lease === undefined)
    throw new TypeError('expected a job returned by take(), takeMany() or next()');
  if (lease.queue !== queue)
    throw new TypeError(`job ${job.id} was taken through another queue object`);
  return lease;
}

/**
 * A leased job, as `take`, `takeMany` and `next` return it. Settle it once, with `ack`, `fail` or
 * `release` (on the job or on its queue: the same thing); `extend` it while it runs past its lease.
 */
export class AsyncJob<T = unknown> {
  /** The job's id, increasing in put order. */
  readonly id: number;
  /** Its idempotency key, if it was put with one. */
  readonly key: string | undefined;
  readonly payload: T;
  /** 1 for the first lease, 2 for the second, … (expired leases count; a release does not). */
  readonly attempt: number;
  /** The lease, in a private field so that it cannot be forged or read from outside. */
  readonly #lease: AsyncLease;

  static {
    leaseField = (job) =>
      typeof job === 'object' && job !== null && #lease in job
        ? (job as AsyncJob).#lease
        : undefined;
  }

  /** @internal Made by a backend only, with its lease. */
  constructor(lease: AsyncLease, id: number, key: string | undefined, payload: T, attempt: number) {
    this.id = id;
    this.key = key;
    this.payload = payload;
    this.attempt = attempt;
    this.#lease = lease;
  }

  /** When the lease runs out, in epoch seconds (the backend's clock, as last seen here). */
  get leaseExpiresAt(): number {
    return this.#lease.expires;
  }

  /** Whether `ack`, `fail` or `release` succeeded on this object. */
  get settled(): boolean {
    return this.#lease.settled;
  }

  /** `queue.ack(job, result)`. */
  ack(result?: unknown): Promise<void> {
    return this.#lease.queue.ack(this as AsyncJob<unknown>, result);
  }

  /** `queue.fail(job, error, options)`. */
  fail(error: unknown, options?: FailOptions): Promise<FailOutcome> {
    return this.#lease.queue.fail(this as AsyncJob<unknown>, error, options);
  }

  /** `queue.extend(job, seconds)`. */
  extend(seconds?: number): Promise<void> {
    return this.#lease.queue.extend(this as AsyncJob<unknown>, seconds);
  }

  /** `queue.release(job)`. */
  release(): Promise<void> {
    return this.#lease.queue.release(this as AsyncJob<unknown>);
  }
}
