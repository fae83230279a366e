/**
 * work-queue-async: the SQLite WorkQueue behind the AsyncWorkQueue interface (`workQueue.async`,
 * and what `openQueue(directory)` returns). Each method runs the synchronous WorkQueue method in
 * fail-fast mode: a busy write lock is retried after async pauses (see async-view.ts) up to the
 * queue's `timeout`, so waiting for another process never blocks the event loop.
 * Its AsyncJobs are its own (they wrap no synchronous Job): taking and settling go straight to
 * the WorkQueue's lease-level operations (`queueInternals`), one transaction per batch, so the
 * fencing and the LeaseLostError messages are WorkQueue's own and a job costs no more than on the
 * synchronous API.
 */
import { retryWhileBusy } from '../cache/async-view.js';

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
  #results: AsyncResults | undefined;

  /** Wraps `queue`; with `ownsQueue`, `close()` closes it too. */
  constructor(queue: WorkQueue<T>, { ownsQueue = false } = {}) {
    this.#queue = queue;
    this.#ops = queueInternals(queue);
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
    return (await this.#run(() => this.#ops.claim(1, options, this.#make)))[0];
  }

  takeMany(max: number, options: TakeOptions = {}): Promise<AsyncJob<T>[]> {
    return this.#run(() => this.#ops.claim(max, options, this.#make));
  }

  next(options: NextOptions = {}): Promise<AsyncJob<T> | undefined> {
    return this.#ops.next(options, this.#make);
  }

  async ack(job: AsyncJob<T>, result?: unknown): Promise<void> {
    await this.#run(() => {
      const lost = this.#ops.ack([job], [result], this.#lease);
      if (lost.length > 0) throw this.#ops.leaseLost(job, this.#lease(job), 'ack');
    });
  }

  ackMany(items: Iterable<AsyncAckItem<T>>): Promise<AsyncJob<T>[]> {
    return this.#run(() => {
      const [jobs, results, tags] = splitAckItems<AsyncJob<T>>(items, AsyncJob);
      return this.#ops.ack(jobs, results, this.#lease, tags);
    });
  }

  async fail(job: AsyncJob<T>, error: unknown, options?: FailOptions): Promise<FailOutcome> {
    return await this.#run(() => this.#ops.fail(job, this.#lease(job), error, options));
  }

  async extend(job: AsyncJob<T>, seconds?: number): Promise<void> {
    await this.#run(() => {
      const lost = this.#ops.extend([job], seconds, this.#lease);
      if (lost.length > 0) throw this.#ops.leaseLost(job, this.#lease(job), 'extend');
    });
  }

  extendMany(jobs: Iterable<AsyncJob<T>>, seconds?: number): Promise<AsyncJob<T>[]> {
    return this.#run(() => this.#ops.extend([...jobs], seconds, this.#lease));
  }

  async release(job: AsyncJob<T>): Promise<void> {
    await this.#run(() => {
      const lost = this.#ops.release([job], this.#lease);
      if (lost.length > 0) throw this.#ops.leaseLost(job, this.#lease(job), 'release');
    });
  }

  releaseMany(jobs: Iterable<AsyncJob<T>>): Promise<AsyncJob<T>[]> {
    return this.#run(() => this.#ops.release([...jobs], this.#lease));
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
