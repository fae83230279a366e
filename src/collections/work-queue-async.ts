/**
 * work-queue-async: the SQLite WorkQueue behind the AsyncWorkQueue interface (`workQueue.async`,
 * and what `openQueue(directory)` returns). Each method runs the synchronous WorkQueue method in
 * fail-fast mode: a busy write lock is retried after async pauses (see async-view.ts) up to the
 * queue's `timeout`, so waiting for another process never blocks the event loop.
 * Its AsyncJobs are its own (they wrap no synchronous Job): taking and settling go straight to
 * the WorkQueue's lease-level operations (`queueInternals`), one transaction per batch, so the
 * fencing and the LeaseLostError messages are WorkQueue's own and a job costs no more than on the
 * synchronous API.
 * Group commit: the lease operations issued in the same tick (a worker's ack of one batch and its
 * take of the next) run in ONE write transaction at the next microtask, each in a savepoint of its
 * own (an op that throws is undone and rejects alone): one lock and one commit instead of two,
 * which is what sets the pace when several processes share the queue. Calls that carry values
 * (put, an ack with a result, fail) are not grouped: they store what the value is at the call.
 */
import { grouper, retryWhileBusy } from '../cache/async-view.js';

import type { Key } from '../cache/types.js';
import {
  type AsyncAckItem,
  AsyncJob,
  type AsyncLease,
  type AsyncResults,
  type AsyncWorkQueue,
  type FailedListOptions,
  type LeaseId,
  leaseOf,
  type PurgeDoneOptions,
  type ResultKey,
} from './async-work-queue.js';
import type { Index } from './index.js';
import { type MakeJob, type QueueInternals, queueInternals, type WorkQueue } from './work-queue.js';
import {
  type FailOptions,
  type FailOutcome,
  type LeaseState,
  splitAckItems,
} from './work-queue-job.js';
import type { QueueSettings } from './work-queue-schema.js';
import type {
  FailedJob,
  NextOptions,
  PutManyOptions,
  PutOptions,
  TakeOptions,
  WorkQueueStats,
} from './work-queue-types.js';

/** The lease of an AsyncJob of this adapter: the row's lease token, as the WorkQueue fences with. */
interface SqliteLease extends AsyncLease, LeaseState {
  readonly token: number;
}

/** An AsyncWorkQueue over a synchronous WorkQueue that never blocks on another process's lock. */
export class SqliteAsyncWorkQueue<T = unknown> implements AsyncWorkQueue<T> {
  readonly locator: string;
  readonly #queue: WorkQueue<T>;
  readonly #ops: QueueInternals<T>;
  readonly #ownsQueue: boolean;
  /** Runs a write, grouped with the others of its tick (see the header). */
  readonly #enqueue: (op: () => unknown) => Promise<unknown>;
  #results: AsyncResults | undefined;

  /** Wraps `queue`; with `ownsQueue`, `close()` closes it too. */
  constructor(queue: WorkQueue<T>, { ownsQueue = false } = {}) {
    this.#queue = queue;
    this.#ops = queueInternals(queue);
    this.#ownsQueue = ownsQueue;
    this.locator = queue.directory;
    this.#enqueue = grouper(
      { methods: [], commit: (ops) => this.#ops.writeEach(ops) },
      { timeout: () => queue.timeout, name: () => queue.directory },
    );
  }

  /** Runs a synchronous queue read, retrying a busy lock between awaits (never blocking). */
  #run<R>(call: () => R): Promise<R> {
    return retryWhileBusy(call, this.#queue.timeout, false, this.#queue.directory);
  }

  /** Runs a synchronous queue write in the group commit of its tick (never blocking). */
  #write<R>(call: () => R): Promise<R> {
    return this.#enqueue(call) as Promise<R>;
  }

  /** The synchronous queue underneath. */
  get queue(): WorkQueue<T> {
    return this.#queue;
  }

  /**
   * Makes the AsyncJob of a claimed row: its lease is the row's, settled by this object. (Typed
   * with an unknown payload so that the class stays covariant in T, as a job queue's type is.)
   */
  readonly #make: MakeJob<unknown, AsyncJob<T>> = (id, key, payload, attempt, token, expires) => {
    const lease: SqliteLease = {
      queue: this as AsyncWorkQueue<unknown>,
      token,
      expires,
      settled: false,
    };
    return new AsyncJob<T>(lease, id, key, payload as T, attempt);
  };

  /** The lease of a job this object handed out. @throws TypeError for any other object */
  readonly #lease = (job: AsyncJob<unknown>): SqliteLease =>
    leaseOf(this as AsyncWorkQueue<unknown>, job) as SqliteLease;

  async put(payload: T, options?: PutOptions): Promise<number | undefined> {
    return await this.#run(() => this.#queue.put(payload, options));
  }

  async putMany(
    payloads: Iterable<T>,
    options?: PutManyOptions<T>,
  ): Promise<(number | undefined)[]> {
    return await this.#run(() => this.#queue.putMany(payloads, options));
  }

  async take(options: TakeOptions = {}): Promise<AsyncJob<T> | undefined> {
    return (await this.#write(() => this.#ops.claim(1, options, this.#make)))[0];
  }

  takeMany(max: number, options: TakeOptions = {}): Promise<AsyncJob<T>[]> {
    return this.#write(() => this.#ops.claim(max, options, this.#make));
  }

  next(options: NextOptions = {}): Promise<AsyncJob<T> | undefined> {
    return this.#ops.next(options, this.#make);
  }

  async ack(job: AsyncJob<T>, result?: unknown): Promise<void> {
    await this.#settle([result], () => {
      const lost = this.#ops.ack([job], [result], this.#lease);
      if (lost.length > 0) throw this.#ops.leaseLost(job, this.#lease(job), 'ack');
    });
  }

  async ackMany(items: Iterable<AsyncAckItem<T>>): Promise<AsyncJob<T>[]> {
    const [jobs, results] = splitAckItems<AsyncJob<T>>(items, AsyncJob);
    return await this.#settle(results, () => this.#ops.ack(jobs, results, this.#lease));
  }

  /**
   * Runs an ack: grouped when it stores no result; one that does runs at once (see the header),
   * so that the results stored are the values as they are at the call.
   */
  #settle<R>(results: readonly unknown[], ack: () => R): Promise<R> {
    return results.every((result) => result === undefined) ? this.#write(ack) : this.#run(ack);
  }

  async fail(job: AsyncJob<T>, error: unknown, options?: FailOptions): Promise<FailOutcome> {
    return await this.#run(() => this.#ops.fail(job, this.#lease(job), error, options));
  }

  async extend(job: AsyncJob<T>, seconds?: number): Promise<void> {
    await this.#write(() => {
      const lost = this.#ops.extend([job], seconds, this.#lease);
      if (lost.length > 0) throw this.#ops.leaseLost(job, this.#lease(job), 'extend');
    });
  }

  async extendMany(jobs: Iterable<AsyncJob<T>>, seconds?: number): Promise<AsyncJob<T>[]> {
    const list = [...jobs];
    return await this.#write(() => this.#ops.extend(list, seconds, this.#lease));
  }

  async release(job: AsyncJob<T>): Promise<void> {
    await this.#write(() => {
      const lost = this.#ops.release([job], this.#lease);
      if (lost.length > 0) throw this.#ops.leaseLost(job, this.#lease(job), 'release');
    });
  }

  async releaseMany(jobs: Iterable<AsyncJob<T>>): Promise<AsyncJob<T>[]> {
    const list = [...jobs];
    return await this.#write(() => this.#ops.release(list, this.#lease));
  }

  async releaseById(jobs: Iterable<LeaseId>): Promise<number[]> {
    const list = [...jobs];
    return await this.#write(() => this.#queue.releaseById(list));
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
