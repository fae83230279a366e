/**
 * work-queue-async: the SQLite WorkQueue behind the AsyncWorkQueue interface (`workQueue.async`,
 * and what `openQueue(directory)` returns). Each method runs the synchronous WorkQueue method in
 * fail-fast mode: a busy write lock is retried after async pauses (see async-view.ts) up to the
 * queue's `timeout`, so waiting for another process never blocks the event loop.
 * Settling delegates to the synchronous Job that each AsyncJob wraps (the lease's token), so the
 * fencing and the LeaseLostError messages are WorkQueue's own.
 */
import { retryWhileBusy } from '../cache/async-view.js';

import type { Key } from '../cache/types.js';
import {
  type AsyncAckItem,
  AsyncJob,
  type AsyncLease,
  type AsyncResults,
  type AsyncWorkQueue,
  ackEntry,
  type FailedListOptions,
  type LeaseId,
  leaseOf,
  type PurgeDoneOptions,
  type ResultKey,
} from './async-work-queue.js';
import type { Index } from './index.js';
import type { Job, WorkQueue } from './work-queue.js';
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

/** An AsyncWorkQueue over a synchronous WorkQueue that never blocks on another process's lock. */
export class SqliteAsyncWorkQueue<T = unknown> implements AsyncWorkQueue<T> {
  readonly locator: string;
  readonly #queue: WorkQueue<T>;
  readonly #ownsQueue: boolean;
  readonly #byJob = new WeakMap<Job<T>, AsyncJob<T>>();
  #results: AsyncResults | undefined;

  /** Wraps `queue`; with `ownsQueue`, `close()` closes it too. */
  constructor(queue: WorkQueue<T>, { ownsQueue = false } = {}) {
    this.#queue = queue;
    this.#ownsQueue = ownsQueue;
    this.locator = queue.directory;
  }

  /** Runs a synchronous queue call, retrying a busy lock between awaits (never blocking). */
  #run<R>(call: () => R): Promise<R> {
    return retryWhileBusy(call, this.#queue.timeout, false, this.#queue.directory);
  }

  /** The synchronous queue underneath. */
  get queue(): WorkQueue<T> {
    return this.#queue;
  }

  #wrap(job: Job<T>): AsyncJob<T> {
    const lease: AsyncLease = {
      queue: this as AsyncWorkQueue<unknown>,
      token: job,
      expires: job.leaseExpiresAt,
      settled: false,
    };
    const wrapped = new AsyncJob<T>(lease, job.id, job.key, job.payload, job.attempt);
    this.#byJob.set(job, wrapped);
    return wrapped;
  }

  #lease(job: AsyncJob<T>): AsyncLease {
    return leaseOf(this as AsyncWorkQueue<unknown>, job as AsyncJob<unknown>);
  }

  #inner(job: AsyncJob<T>): Job<T> {
    return this.#lease(job).token as Job<T>;
  }

  /** Marks the AsyncJobs of the sync jobs not in `lost` as settled; returns the lost AsyncJobs. */
  #settle(jobs: AsyncJob<T>[], lost: Job<T>[], settles: boolean): AsyncJob<T>[] {
    const lostSet = new Set(lost);
    for (const job of jobs) {
      const lease = this.#lease(job);
      const inner = lease.token as Job<T>;
      if (lostSet.has(inner)) continue;
      if (settles) lease.settled = true;
      else lease.expires = inner.leaseExpiresAt;
    }
    return lost.map((job) => this.#byJob.get(job)!);
  }

  async put(payload: T, options?: PutOptions): Promise<number | undefined> {
    return await this.#run(() => this.#queue.put(payload, options));
  }

  async putMany(
    payloads: Iterable<T>,
    options?: PutManyOptions<T>,
  ): Promise<(number | undefined)[]> {
    return await this.#run(() => this.#queue.putMany(payloads, options));
  }

  async take(options?: TakeOptions): Promise<AsyncJob<T> | undefined> {
    const job = await this.#run(() => this.#queue.take(options));
    return job === undefined ? undefined : this.#wrap(job);
  }

  async takeMany(max: number, options?: TakeOptions): Promise<AsyncJob<T>[]> {
    return (await this.#run(() => this.#queue.takeMany(max, options))).map((job) =>
      this.#wrap(job),
    );
  }

  async next(options?: NextOptions): Promise<AsyncJob<T> | undefined> {
    const job = await this.#queue.next(options);
    return job === undefined ? undefined : this.#wrap(job);
  }

  async ack(job: AsyncJob<T>, result?: unknown): Promise<void> {
    await this.#run(() => this.#queue.ack(this.#inner(job), result));
    this.#lease(job).settled = true;
  }

  async ackMany(items: Iterable<AsyncAckItem<T>>): Promise<AsyncJob<T>[]> {
    const entries = [...items].map(ackEntry);
    const lost = await this.#run(() =>
      this.#queue.ackMany(entries.map(({ job, result }) => ({ job: this.#inner(job), result }))),
    );
    return this.#settle(
      entries.map((entry) => entry.job),
      lost,
      true,
    );
  }

  async fail(job: AsyncJob<T>, error: unknown, options?: FailOptions): Promise<FailOutcome> {
    const outcome = await this.#run(() => this.#queue.fail(this.#inner(job), error, options));
    this.#lease(job).settled = true;
    return outcome;
  }

  async extend(job: AsyncJob<T>, seconds?: number): Promise<void> {
    const inner = this.#inner(job);
    await this.#run(() => this.#queue.extend(inner, seconds));
    this.#lease(job).expires = inner.leaseExpiresAt;
  }

  async extendMany(jobs: Iterable<AsyncJob<T>>, seconds?: number): Promise<AsyncJob<T>[]> {
    const list = [...jobs];
    const lost = await this.#run(() =>
      this.#queue.extendMany(
        list.map((job) => this.#inner(job)),
        seconds,
      ),
    );
    return this.#settle(list, lost, false);
  }

  async release(job: AsyncJob<T>): Promise<void> {
    await this.#run(() => this.#queue.release(this.#inner(job)));
    this.#lease(job).settled = true;
  }

  async releaseMany(jobs: Iterable<AsyncJob<T>>): Promise<AsyncJob<T>[]> {
    const list = [...jobs];
    const lost = await this.#run(() =>
      this.#queue.releaseMany(list.map((job) => this.#inner(job))),
    );
    return this.#settle(list, lost, true);
  }

  async releaseById(jobs: Iterable<LeaseId>): Promise<number[]> {
    const list = [...jobs];
    return await this.#run(() => this.#queue.releaseById(list));
  }

  async stats(): Promise<WorkQueueStats> {
    return await this.#run(() => this.#queue.stats());
  }

  async isDrained(): Promise<boolean> {
    return await this.#run(() => this.#queue.isDrained());
  }

  async failed(options?: FailedListOptions): Promise<FailedJob<T>[]> {
    return await this.#run(() => this.#queue.failed(options));
  }

  async retryFailed(): Promise<number> {
    return await this.#run(() => this.#queue.retryFailed());
  }

  async purgeDone(options?: PurgeDoneOptions): Promise<number> {
    return await this.#run(() => this.#queue.purgeDone(options));
  }

  get results(): AsyncResults {
    this.#results ??= indexResults(() => this.#queue.results);
    return this.#results;
  }

  async settings(): Promise<Readonly<QueueSettings>> {
    return this.#queue.settings;
  }

  backoffSeconds(attempt: number): number {
    return this.#queue.backoffSeconds(attempt);
  }

  async close(): Promise<void> {
    if (this.#ownsQueue) this.#queue.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The results Index as an AsyncResults (opened on first use). */
function indexResults(index: () => Index<Key, unknown>): AsyncResults {
  return {
    get: (key: ResultKey) => index().async.get(key),
    set: async (key: ResultKey, value: unknown) => {
      await index().async.set(key, value);
    },
    has: (key: ResultKey) => index().async.has(key),
    delete: (key: ResultKey) => index().async.delete(key),
    size: async () => index().size,
    keys: async function* () {
      for (const key of index().keys()) yield key as ResultKey;
    },
    entries: async function* () {
      for (const [key, value] of index().entries()) yield [key as ResultKey, value];
    },
  };
}
