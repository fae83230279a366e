/**
 * WorkQueue: a reliable job queue shared by processes, in a diskcache-format directory.
 *
 * Delivery is at-least-once with leases: `take` leases a job for `leaseSeconds`; a job whose lease
 * runs out goes back to pending (counting as an attempt) and may be handed to another worker.
 * Every lease has a token (`lease_token`, bumped at each lease, never reset), and `ack`, `fail`,
 * `extend` and `release` only change the row when the token still matches (fencing in the
 * UPDATE's WHERE clause): a worker whose lease was lost gets `LeaseLostError`, so a job is never
 * completed twice. `takeMany`/`ackMany`/`extendMany` do a whole batch in one transaction, which is
 * what makes a multi-process runner fast (a commit costs tens of microseconds).
 *
 * The directory is a diskcache Cache directory (schema.ts brings `cache.db` to diskcache's format,
 * so it stays a valid cache for Python and `diskcache stats`); jobs live in their own tables of
 * the same database (see work-queue-schema.ts), written through the engine's transaction helper
 * in its polling mode. Results of acked jobs go to a results store in `<directory>/results`,
 * which Python's diskcache can open as an Index.
 * This module must not know about the runner or the CLI.
 */
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import { Cache } from '../cache/cache.js';
import {
  checkInteger,
  checkSeconds,
  checkSignal,
  checkString,
  type Seconds,
} from '../cache/checks.js';
import { PickleDisk } from '../cache/disk.js';
import { isBusy, LeaseLostError, Timeout } from '../cache/errors.js';
import { DBNAME, openDatabase } from '../cache/schema.js';
import { failFast, Transactor } from '../cache/transaction.js';
import type { Key, Tag } from '../cache/types.js';
import { abortError, Backoff, sleep, wakeAll } from '../cache/waiting.js';
import { Index } from './index.js';
import { type HolderStatus, holderOf, holderStatus, parseHolder, UNHELD } from './lease-holder.js';
import { SqliteAsyncWorkQueue } from './work-queue-async.js';
import { backoffFor, decodePayload, encodePayload, errorText } from './work-queue-codec.js';
import {
  type AckItem,
  type FailOptions,
  type FailOutcome,
  Job,
  type Lease,
  type LeasedJob,
  type LeaseState,
  leases,
  splitAckItems,
} from './work-queue-job.js';
import {
  checkQueueOptions,
  FAILED,
  initialiseQueue,
  LEASED,
  PENDING,
  prepareQueueStatements,
  type QueueSettings,
  type QueueStatements,
  type WorkQueueOptions,
} from './work-queue-schema.js';
import type {
  FailedJob,
  NextOptions,
  PutManyOptions,
  PutOptions,
  TakeOptions,
  WorkQueueStats,
} from './work-queue-types.js';

export { type AckItem, type FailOptions, type FailOutcome, Job } from './work-queue-job.js';
export type { WorkQueueOptions } from './work-queue-schema.js';
export type {
  FailedJob,
  NextOptions,
  PutManyOptions,
  PutOptions,
  TakeOptions,
  WorkQueueStats,
} from './work-queue-types.js';

/**
 * Waiting for work: `next()` polls (other processes cannot signal us) with a backoff from 2 ms up
 * to 50 ms, so a job put by another process is noticed within about 50 ms; a put in this process
 * wakes the waiters on the same database file at once.
 */
const POLL_FIRST_MS = 2;
const POLL_MAX_MS = 50;
/**
 * How often `take` looks for leases held by processes that died (one query over the leased rows
 * and a read of /proc per holder): at the first take of a queue object, then at most every 500 ms.
 */
const SURVEY_EVERY_MS = 500;

/** Who holds leases in a queue (`leaseHolders()`), one entry per holder. */
export interface LeaseHolder {
  /** The holder's process id; undefined when the leases do not say (see `status: 'unknown'`). */
  readonly pid: number | undefined;
  /**
   * `alive`: a process on this machine that still runs. `supervised`: gone, but the process that
   * supervises it (the runner's parent) still runs and gives its jobs back. `dead`: gone; the next
   * `take` reclaims its leases. `other-machine`: another machine (or PID namespace) holds them,
   * they come back when they run out. `unknown`: taken by an older version or on a system without
   * /proc; they come back when they run out.
   */
  readonly status: HolderStatus;
  /** Jobs it holds. */
  readonly jobs: number;
  /** When the first of its leases runs out (epoch seconds) unless extended. */
  readonly leaseEndsAt: number;
}

/**
 * @internal Makes the job object of a claimed row: a Job, or (for `workQueue.async`) an AsyncJob,
 * so that neither backend's objects wrap the other's.
 */
export type MakeJob<T, J> = (
  id: number,
  key: string | undefined,
  payload: T,
  attempt: number,
  token: number,
  expires: number,
) => J;

/**
 * @internal The lease-level operations behind WorkQueue's public methods, on job objects of any
 * class: what SqliteAsyncWorkQueue settles its own AsyncJobs through, one transaction per batch,
 * with the same fencing and LeaseLostError messages as the synchronous API. `leaseOf` gives a
 * job's lease (and throws TypeError for a job that the caller did not hand out).
 */
export interface QueueInternals<T> {
  claim<J>(max: number, options: TakeOptions, make: MakeJob<T, J>): J[];
  next<J>(options: NextOptions, make: MakeJob<T, J>): Promise<J | undefined>;
  ack<J extends LeasedJob>(
    jobs: readonly J[],
    results: readonly unknown[],
    leaseOf: (job: J) => LeaseState,
    tags?: readonly (Tag | undefined)[],
  ): J[];
  fail(job: LeasedJob, lease: LeaseState, error: unknown, options?: FailOptions): FailOutcome;
  extend<J extends LeasedJob>(
    jobs: readonly J[],
    seconds: number | undefined,
    leaseOf: (job: J) => LeaseState,
  ): J[];
  release<J extends LeasedJob>(jobs: readonly J[], leaseOf: (job: J) => LeaseState): J[];
  /** The LeaseLostError for `action` on a job whose fenced statement matched no row. */
  leaseLost(job: LeasedJob, lease: LeaseState, action: string): LeaseLostError;
}

let internalsOf: <T>(queue: WorkQueue<T>) => QueueInternals<T>;

/** @internal The lease-level operations of `queue` (not part of the package's API). */
export function queueInternals<T>(queue: WorkQueue<T>): QueueInternals<T> {
  return internalsOf(queue);
}

function nowSeconds(): number {
  return Date.now() / 1000;
}

function checkKey(key: unknown): string | null {
  return key === undefined ? null : checkString('key', key, { allowEmpty: true });
}

/**
 * A persistent job queue shared by any number of processes (one WorkQueue object per thread).
 * Delivery is at-least-once: a job whose worker dies is handed out again when its lease expires,
 * so a handler may run more than once for the same job and must tolerate that.
 *
 * Not guaranteed: strict FIFO across processes (jobs are handed out in ready-time order, but
 * workers finish them in any order); done jobs stay in the table (their payload is dropped) until
 * `purgeDone()`; an expired lease is reclaimed lazily by the next `take`.
 */
export class WorkQueue<T = unknown> implements Disposable {
  readonly #directory: string;
  readonly #file: string;
  readonly #db: Database.Database;
  readonly #tx: Transactor;
  readonly #timeout: Seconds;
  #async: SqliteAsyncWorkQueue<T> | undefined;
  readonly #settings: QueueSettings;
  readonly #s: QueueStatements;
  #results: Index<Key, unknown> | undefined;
  #resultsCache: Cache | undefined;
  #closed = false;
  /** This process as the holder of its leases (null when unknowable: no /proc). */
  readonly #holder: string | null;
  /** What `put` writes in the holder column: room for a holder (see UNHELD), where one is known. */
  readonly #unheld: string | null;
  #nextSurvey = 0;

  static {
    internalsOf = <T>(queue: WorkQueue<T>): QueueInternals<T> => ({
      claim: (max, options, make) => queue.#claim(max, options, make),
      next: (options, make) => queue.#next(options, make),
      ack: (jobs, results, leaseOf, tags) => queue.#ackLeases(jobs, results, leaseOf, tags),
      fail: (job, lease, error, options) => queue.#failLease(job, lease, error, options),
      extend: (jobs, seconds, leaseOf) => queue.#extendLeases(jobs, seconds, leaseOf),
      release: (jobs, leaseOf) => queue.#releaseLeases(jobs, leaseOf),
      leaseLost: (job, lease, action) => queue.#leaseLost(job, lease, action),
    });
  }

  /**
   * Opens (creating if needed) the work queue in `directory`, a diskcache cache directory.
   * Options given are stored in the directory, so later openers inherit them.
   * @throws TypeError / RangeError for invalid options; DatabaseError when the directory is unusable.
   */
  constructor(directory: string, options: WorkQueueOptions = {}) {
    if (typeof directory !== 'string' || directory === '')
      throw new TypeError(`directory must be a non-empty string path, got ${String(directory)}`);
    const given = checkQueueOptions(options);
    this.#holder = holderOf(options.leaseSupervisor);
    this.#unheld = this.#holder === null ? null : UNHELD;
    const timeout = options.timeout ?? 60;
    this.#timeout = timeout;
    // The queue lives in a diskcache directory that never evicts (its results Index neither).
    const opened = openDatabase(path.resolve(directory), {
      given: { eviction_policy: 'none' },
      openTimeout: timeout,
      busyTimeout: timeout,
    });
    this.#db = opened.db;
    this.#directory = path.resolve(directory);
    this.#file = path.join(this.#directory, DBNAME);
    try {
      this.#settings = initialiseQueue(this.#db, given, opened.readOnly);
      // From here on the Transactor waits for the lock itself (see its 'poll' mode).
      this.#db.pragma('busy_timeout = 0');
      this.#s = prepareQueueStatements(this.#db);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#tx = new Transactor(this.#db, {
      timeout,
      busyWait: 'poll',
      removeFile: () => {}, // jobs have no value files
      name: this.#file,
    });
  }

  // ---- transactions ---------------------------------------------------------------------------

  #check(): void {
    this.#tx.checkOpen();
  }

  /** Runs one statement, waiting (up to the timeout) while the database is busy. */
  #whenFree<R>(statement: () => R): R {
    return this.#tx.run(false, null, statement);
  }

  /** Runs `body` in one write transaction, waiting (up to the timeout) for the lock. */
  #write<R>(body: () => R): R {
    return this.#tx.write(false, null, body);
  }

  /** The lease of a Job this queue object handed out. @throws TypeError for any other object */
  readonly #leaseOfJob = (job: Job<unknown>): Lease => {
    const lease = job instanceof Job ? leases.get(job) : undefined;
    if (lease === undefined)
      throw new TypeError('expected a Job returned by take(), takeMany() or next()');
    if (lease.queue !== (this as WorkQueue<unknown>))
      throw new TypeError(`job ${job.id} was taken through another WorkQueue object`);
    return lease;
  };

  /** Makes the Job of a claimed row (see `#claim`; typed as `workQueue.async`'s maker is). */
  readonly #makeJob: MakeJob<unknown, Job<T>> = (id, key, payload, attempt, token, expires) => {
    const lease: Lease = { queue: this as WorkQueue<unknown>, token, expires, settled: false };
    return new Job<T>(lease, id, key, payload as T, attempt);
  };

  /** Explains why a fenced UPDATE matched no row. */
  #leaseLost(job: LeasedJob, lease: LeaseState, action: string): LeaseLostError {
    const row = this.#whenFree(() => this.#s.lookup.get(BigInt(job.id))) as
      | [number, number, number]
      | undefined;
    let reason: string;
    if (row === undefined) reason = 'it no longer exists (done jobs are removed by purgeDone)';
    else if (lease.settled) reason = 'this job object was already settled';
    else if (row[2] !== lease.token)
      reason = `its lease expired and it was taken again (now attempt ${row[1]})`;
    else if (row[0] === PENDING) reason = 'its lease expired and it went back to pending';
    else if (row[0] === FAILED) reason = 'its lease expired and it moved to the failed list';
    else reason = 'it is already done';
    return new LeaseLostError(`cannot ${action} job ${job.id} (attempt ${job.attempt}): ${reason}`);
  }

  // ---- putting --------------------------------------------------------------------------------

  /** Inserts one pending job (inside a write); its id, or `undefined` when its key exists. */
  #insert(
    key: string | null,
    availableAt: number,
    bytes: string | Buffer,
    now: number,
  ): number | undefined {
    const info = this.#s.insert.run(key, availableAt, bytes, now, this.#unheld);
    return info.changes === 1 ? Number(info.lastInsertRowid) : undefined;
  }

  /**
   * Adds a job; returns its id, or `undefined` when `key` is given and a job with that key exists.
   * @example queue.put({ url }, { key: url }) // a second put of the same url is ignored
   */
  put(payload: T, options: PutOptions = {}): number | undefined {
    const key = checkKey(options.key);
    const delay =
      options.delaySeconds === undefined
        ? 0
        : checkSeconds('delaySeconds', options.delaySeconds, { allowZero: true });
    const bytes = encodePayload(payload);
    const id = this.#write(() => {
      const now = nowSeconds();
      return this.#insert(key, now + delay, bytes, now);
    });
    if (id !== undefined) wakeAll(this.#file);
    return id;
  }

  /**
   * Adds many jobs in one transaction; returns their ids in order (`undefined` for a payload whose
   * key already existed).
   */
  putMany(payloads: Iterable<T>, options: PutManyOptions<T> = {}): (number | undefined)[] {
    const delay =
      options.delaySeconds === undefined
        ? 0
        : checkSeconds('delaySeconds', options.delaySeconds, { allowZero: true });
    if (options.key !== undefined && typeof options.key !== 'function')
      throw new TypeError('key must be a function (payload, index) => string | undefined');
    const rows: [string | null, string | Buffer][] = [];
    let index = 0;
    for (const payload of payloads) {
      rows.push([checkKey(options.key?.(payload, index)), encodePayload(payload)]);
      index++;
    }
    if (rows.length === 0) return [];
    const ids = this.#write(() => {
      const now = nowSeconds();
      return rows.map(([key, bytes]) => this.#insert(key, now + delay, bytes, now));
    });
    wakeAll(this.#file);
    return ids;
  }

  // ---- taking ---------------------------------------------------------------------------------

  /** Leases the next ready job, or returns `undefined` when none is ready. Never waits. */
  take(options?: TakeOptions): Job<T> | undefined {
    return this.takeMany(1, options)[0];
  }

  /**
   * Leases up to `max` ready jobs in one transaction (in ready-time order). Expired leases are
   * reclaimed first, and so are the leases of processes on this machine that died (looked for at
   * most twice a second). Returns `[]` when nothing is ready, without taking the write lock.
   */
  takeMany(max: number, options: TakeOptions = {}): Job<T>[] {
    return this.#claim(max, options, this.#makeJob);
  }

  /** `takeMany`, each job object made by `make` from its row (a Job, or an AsyncJob). */
  #claim<J>(max: number, options: TakeOptions, make: MakeJob<T, J>): J[] {
    checkInteger('max', max);
    const leaseSeconds =
      options.leaseSeconds === undefined
        ? this.#settings.leaseSeconds
        : checkSeconds('leaseSeconds', options.leaseSeconds);
    this.#check();
    if (max === 0) return [];
    const probe = nowSeconds();
    const [pending, expired] = this.#whenFree(() => this.#s.ready.get(probe, probe)) as [
      number,
      number,
    ];
    const dead = this.#deadHolders();
    if (!pending && !expired && dead.length === 0) return [];
    let expires = 0;
    const rows = this.#write(() => {
      const now = nowSeconds();
      const attempts = BigInt(this.#settings.maxAttempts);
      if (expired) this.#s.reclaim.run({ max: attempts, now });
      for (const [holder, pid] of dead)
        this.#s.reclaimHolder.run({ max: attempts, now, holder, pid: BigInt(pid) });
      expires = now + leaseSeconds;
      const leased: [number, string | null, number, number, string | Buffer][] = [];
      for (const id of this.#s.claimIds.all(now, BigInt(max)) as number[]) {
        const row = this.#s.claim.get(expires, this.#holder, BigInt(id));
        if (row !== undefined) leased.push(row as (typeof leased)[number]);
      }
      return leased;
    });
    rows.sort((a, b) => a[0] - b[0]);
    return rows.map(([id, key, attempt, token, payload]) =>
      make(id, key ?? undefined, decodePayload(payload) as T, attempt, token, expires),
    );
  }

  /** The holders of current leases, each with what is known of it (a read; nothing is changed). */
  #surveyHolders(): { holder: string | null; jobs: number; leaseEndsAt: number }[] {
    const rows = this.#whenFree(() => this.#s.holders.all()) as [string | null, number, number][];
    return rows.map(([holder, jobs, leaseEndsAt]) => ({ holder, jobs, leaseEndsAt }));
  }

  /** Holders on this machine that died, with their pid; due at most every SURVEY_EVERY_MS. */
  #deadHolders(): [string, number][] {
    if (this.#holder === null || Date.now() < this.#nextSurvey) return [];
    this.#nextSurvey = Date.now() + SURVEY_EVERY_MS;
    const dead: [string, number][] = [];
    for (const { holder } of this.#surveyHolders()) {
      if (holder === null || holder === this.#holder) continue;
      const parsed = parseHolder(holder);
      if (parsed !== undefined && holderStatus(parsed) === 'dead') dead.push([holder, parsed.pid]);
    }
    return dead;
  }

  /**
   * Who holds the jobs leased now, and whether they still run (see `LeaseHolder`): what a
   * process starting on a crashed run's queue waits for. Dead holders' leases are reclaimed by
   * the next `take`, not by this call.
   */
  leaseHolders(): LeaseHolder[] {
    this.#check();
    return this.#surveyHolders().map(({ holder, jobs, leaseEndsAt }) => {
      const parsed = holder === null ? undefined : parseHolder(holder);
      return {
        pid: parsed?.pid,
        status: parsed === undefined ? 'unknown' : holderStatus(parsed),
        jobs,
        leaseEndsAt,
      };
    });
  }

  /**
   * Waits for a ready job and leases it. Polls with a backoff capped at 50 ms (a job put by this
   * process wakes it at once), so waiting costs no CPU to speak of.
   * Resolves `undefined` after `timeoutSeconds`; rejects with `AbortError` when `signal` aborts.
   */
  next(options: NextOptions = {}): Promise<Job<T> | undefined> {
    return this.#next(options, this.#makeJob);
  }

  /** `next`, the job object made by `make` (see `#claim`). */
  async #next<J>(options: NextOptions, make: MakeJob<T, J>): Promise<J | undefined> {
    const { signal } = options;
    const timeout =
      options.timeoutSeconds === undefined
        ? Number.POSITIVE_INFINITY
        : checkSeconds('timeoutSeconds', options.timeoutSeconds, { allowZero: true });
    checkSignal('signal', signal);
    const deadline = nowSeconds() + timeout;
    const backoff = new Backoff({ firstMs: POLL_FIRST_MS, maxMs: POLL_MAX_MS });
    for (;;) {
      if (signal?.aborted) throw abortError(signal, 'the wait for work');
      const job = this.#takeWithoutWaiting(options, make);
      if (job !== undefined) return job;
      const remaining = deadline - nowSeconds();
      if (remaining <= 0) return undefined;
      await sleep(Math.min(backoff.next(), remaining * 1000), {
        signal,
        channel: this.#file,
        what: 'the wait for work',
      });
    }
  }

  /**
   * `take` that never blocks on another process's write lock: inside `next()`, a busy database
   * just means "nothing yet", and the wait goes on with an async pause.
   */
  #takeWithoutWaiting<J>(options: TakeOptions, make: MakeJob<T, J>): J | undefined {
    try {
      return failFast(() => this.#claim(1, options, make)[0]);
    } catch (error) {
      if (error instanceof Timeout && isBusy(error.cause)) return undefined;
      throw error;
    }
  }

  // ---- settling -------------------------------------------------------------------------------

  /** `job.ack(result)`. */
  ack(job: Job<T>, result?: unknown): void {
    const lost = this.#ackLeases([job], [result], this.#leaseOfJob);
    if (lost.length > 0) throw this.#leaseLost(job, leases.get(job as Job<unknown>)!, 'ack');
  }

  /**
   * Acks many jobs in one transaction (their results in one more), and returns the jobs whose
   * lease was lost (those are not acked; the others are). Never throws LeaseLostError.
   */
  ackMany(items: Iterable<AckItem<T>>): Job<T>[] {
    const [jobs, results, tags] = splitAckItems<Job<T>>(items, Job);
    return this.#ackLeases(jobs, results, this.#leaseOfJob, tags);
  }

  /**
   * Acks `jobs` (the result of `jobs[i]` in `results[i]`) in one transaction; returns those whose
   * lease was lost. `leaseOf` gives each job's lease (and throws for a job of another queue).
   */
  #ackLeases<J extends LeasedJob>(
    jobs: readonly J[],
    results: readonly unknown[],
    leaseOf: (job: J) => LeaseState,
    tags?: readonly (Tag | undefined)[],
  ): J[] {
    const states = jobs.map(leaseOf);
    if (jobs.length === 0) return [];
    const acked: LeaseState[] = [];
    const lost: J[] = [];
    this.#write(() => {
      const now = nowSeconds();
      const toStore: [Key, unknown, Tag | undefined][] = [];
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i]!;
        const lease = states[i]!;
        if (
          !lease.settled &&
          this.#s.ack.run(now, BigInt(job.id), BigInt(lease.token)).changes === 1
        ) {
          acked.push(lease);
          const result = results[i];
          if (result !== undefined) toStore.push([job.key ?? job.id, result, tags?.[i]]);
        } else {
          lost.push(job);
        }
      }
      if (toStore.length > 0) {
        // Written while this transaction holds the queue's write lock, before its commit: a
        // crash in between leaves a stored result for a job that will run again (at-least-once).
        const results = this.results;
        results.transact(() => {
          // Index.set's own call, with the tag (undefined: none).
          for (const [key, value, tag] of toStore)
            results.cache.set(key, value, { retry: true, tag });
        });
      }
    });
    for (const lease of acked) lease.settled = true;
    return lost;
  }

  /** `job.fail(error, options)`: backoff and retry, or the failed list after `maxAttempts`. */
  fail(job: Job<T>, error: unknown, options: FailOptions = {}): FailOutcome {
    return this.#failLease(job, this.#leaseOfJob(job), error, options);
  }

  /** `fail` of a job whose lease is `lease`. */
  #failLease(
    job: LeasedJob,
    lease: LeaseState,
    error: unknown,
    options: FailOptions = {},
  ): FailOutcome {
    const retryIn =
      options.retryInSeconds === undefined
        ? undefined
        : checkSeconds('retryInSeconds', options.retryInSeconds, { allowZero: true });
    const final = job.attempt >= this.#settings.maxAttempts;
    const text = errorText(error);
    const changed = this.#write(() => {
      const now = nowSeconds();
      const availableAt = final ? now : now + (retryIn ?? this.backoffSeconds(job.attempt));
      return this.#s.fail.run(
        final ? FAILED : PENDING,
        availableAt,
        text,
        final ? now : null,
        BigInt(job.id),
        BigInt(lease.token),
      ).changes;
    });
    if (changed !== 1) throw this.#leaseLost(job, lease, 'fail');
    lease.settled = true;
    if (!final) wakeAll(this.#file);
    return final ? 'failed' : 'retrying';
  }
  /** The default wait before retrying after attempt `attempt` failed, in seconds. */
  backoffSeconds(attempt: number): number {
    return backoffFor(this.#settings.backoffSeconds, attempt);
  }

  /** `job.extend(seconds)`. */
  extend(job: Job<T>, seconds?: number): void {
    const lost = this.#extendLeases([job], seconds, this.#leaseOfJob);
    if (lost.length > 0) throw this.#leaseLost(job, leases.get(job as Job<unknown>)!, 'extend');
  }

  /**
   * Extends the leases of many jobs to `seconds` from now in one transaction (a heartbeat);
   * returns the jobs whose lease was lost. @default seconds: the queue's `leaseSeconds`
   */
  extendMany(jobs: Iterable<Job<T>>, seconds?: number): Job<T>[] {
    return this.#extendLeases([...jobs], seconds, this.#leaseOfJob);
  }

  /** `extendMany` of jobs whose leases `leaseOf` gives (see `#ackLeases`). */
  #extendLeases<J extends LeasedJob>(
    jobs: readonly J[],
    seconds: number | undefined,
    leaseOf: (job: J) => LeaseState,
  ): J[] {
    const length =
      seconds === undefined ? this.#settings.leaseSeconds : checkSeconds('seconds', seconds);
    const states = jobs.map(leaseOf);
    if (jobs.length === 0) return [];
    const lost: J[] = [];
    this.#write(() => {
      const expires = nowSeconds() + length;
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i]!;
        const lease = states[i]!;
        if (
          !lease.settled &&
          this.#s.extend.run(expires, BigInt(job.id), BigInt(lease.token)).changes === 1
        )
          lease.expires = expires;
        else lost.push(job);
      }
    });
    return lost;
  }

  /** `job.release()`. */
  release(job: Job<T>): void {
    const lost = this.#releaseLeases([job], this.#leaseOfJob);
    if (lost.length > 0) throw this.#leaseLost(job, leases.get(job as Job<unknown>)!, 'release');
  }

  /**
   * Gives jobs back to pending at once, in one transaction, without counting the attempt (for a
   * worker that stops before running them). Returns the jobs whose lease was lost.
   */
  releaseMany(jobs: Iterable<Job<T>>): Job<T>[] {
    return this.#releaseLeases([...jobs], this.#leaseOfJob);
  }

  /** `releaseMany` of jobs whose leases `leaseOf` gives (see `#ackLeases`). */
  #releaseLeases<J extends LeasedJob>(jobs: readonly J[], leaseOf: (job: J) => LeaseState): J[] {
    const states = jobs.map(leaseOf);
    if (jobs.length === 0) return [];
    const lost: J[] = [];
    this.#write(() => {
      const now = nowSeconds();
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i]!;
        const lease = states[i]!;
        if (
          !lease.settled &&
          this.#s.release.run(now, BigInt(job.id), BigInt(lease.token)).changes === 1
        )
          lease.settled = true;
        else lost.push(job);
      }
    });
    if (lost.length < jobs.length) wakeAll(this.#file);
    return lost;
  }

  /**
   * Gives back to pending, without counting the attempt, jobs leased by a worker that can no
   * longer settle them: for a supervisor whose worker process died holding them (the runner's
   * parent). Each job is named by its id and the attempt it was leased for; a job that was settled,
   * reclaimed or leased again with another attempt number since is left alone. Unlike `release`,
   * this is not fenced by the lease token (the caller has no Job object): the caller must only
   * name leases that it knows their holder did not let go of. Returns the ids given back.
   */
  releaseById(jobs: Iterable<{ readonly id: number; readonly attempt: number }>): number[] {
    const wanted = [...jobs].map(
      ({ id, attempt }) => [checkInteger('id', id), checkInteger('attempt', attempt)] as const,
    );
    if (wanted.length === 0) return [];
    const released: number[] = [];
    this.#write(() => {
      const now = nowSeconds();
      for (const [id, attempt] of wanted) {
        const row = this.#s.lookup.get(BigInt(id)) as [number, number, number] | undefined;
        if (row === undefined || row[0] !== LEASED || row[1] !== attempt) continue;
        if (this.#s.release.run(now, BigInt(id), BigInt(row[2])).changes === 1) released.push(id);
      }
    });
    if (released.length > 0) wakeAll(this.#file);
    return released;
  }

  // ---- inspecting and maintenance -------------------------------------------------------------

  /** Counts of jobs by state. */
  stats(): WorkQueueStats {
    this.#check();
    const [pending, leased, done, failed] = this.#whenFree(() => this.#s.stats.get()) as number[];
    return { pending: pending!, leased: leased!, done: done!, failed: failed! };
  }

  /**
   * Whether nothing is left to run: no job pending (delayed jobs and retries count) or leased.
   * Cheaper than `stats()` on a queue with many done jobs.
   */
  isDrained(): boolean {
    this.#check();
    return this.#whenFree(() => this.#s.drained.get()) === 1;
  }

  /** The failed list, in id order (at most `limit` jobs). */
  failed(options: { limit?: number } = {}): FailedJob<T>[] {
    const limit =
      options.limit === undefined ? Number.MAX_SAFE_INTEGER : checkInteger('limit', options.limit);
    this.#check();
    const rows = this.#whenFree(() => this.#s.failed.all(0n, BigInt(limit))) as [
      number,
      string | null,
      number,
      string | null,
      number,
      string | Buffer | null,
    ][];
    return rows.map(([id, key, attempts, error, failedAt, payload]) => ({
      id,
      key: key ?? undefined,
      payload: decodePayload(payload) as T,
      attempts,
      error: error ?? '',
      failedAt,
    }));
  }

  /** Moves every failed job back to pending with a fresh attempt count; returns how many. */
  retryFailed(): number {
    const count = this.#write(() => this.#s.retryFailed.run(nowSeconds()).changes);
    if (count > 0) wakeAll(this.#file);
    return count;
  }

  /**
   * Deletes done jobs (finished at least `olderThanSeconds` ago) and returns how many; their
   * keys are forgotten, so a `put` with one of them adds a new job. Results are kept.
   */
  purgeDone(options: { olderThanSeconds?: number } = {}): number {
    const age =
      options.olderThanSeconds === undefined
        ? 0
        : checkSeconds('olderThanSeconds', options.olderThanSeconds, { allowZero: true });
    return this.#write(() => this.#s.purgeDone.run(nowSeconds() - age).changes);
  }

  /**
   * Results of acked jobs, under the job's key when it has one, else under its id. The store is
   * the diskcache directory `<directory>/results` (an Index for Python: `diskcache.Index(path)`).
   */
  get results(): Index<Key, unknown> {
    this.#check();
    if (this.#results === undefined) {
      const directory = path.join(this.#directory, 'results');
      if (this.#settings.resultsFormat === 'pickle') {
        // An Index in a cache this queue owns (fromCache leaves the cache to its owner).
        this.#resultsCache = new Cache(directory, { evictionPolicy: 'none', disk: PickleDisk });
        this.#results = Index.fromCache(this.#resultsCache);
      } else {
        this.#results = new Index(directory);
      }
    }
    return this.#results;
  }

  /**
   * This queue as an `AsyncWorkQueue` (the interface `openQueue` and the Redis backend share):
   * the same methods returning promises, never blocking the event loop on another process's
   * write lock (async pauses up to `timeout`, then `Timeout`).
   */
  get async(): SqliteAsyncWorkQueue<T> {
    this.#async ??= new SqliteAsyncWorkQueue<T>(this);
    return this.#async;
  }

  /** Seconds to wait for the write lock before `Timeout`. */
  get timeout(): Seconds {
    return this.#timeout;
  }

  /** The queue directory (absolute). */
  get directory(): string {
    return this.#directory;
  }

  /** The options in force (given, else stored in the directory, else the defaults). */
  get settings(): Readonly<QueueSettings> {
    return Object.freeze({ ...this.#settings });
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connections. Jobs still leased stay leased until their lease expires. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#tx.close();
    this.#db.close();
    this.#results?.close();
    this.#resultsCache?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
