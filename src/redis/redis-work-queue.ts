/**
 * RedisWorkQueue: the AsyncWorkQueue on Redis (or Valkey), so that workers on many machines share
 * one queue. The semantics are the SQLite WorkQueue's; the design is
 * ../shared/docs/research/scale-out-redis.md: one Lua script per state change or batch (scripts.ts),
 * a zset per state, lease expiry as a zset score (no TTL'd lock key, nothing a `maxmemory` policy
 * can evict), a random fencing token per lease, expired leases reclaimed inside `take` (no
 * coordinator, no stalled-job timer), the server's clock for every time, and wake-ups by pub/sub
 * plus bounded polling (no blocking command to be cut by a failover).
 *
 * Payloads and results are encoded by redis-codec.ts; the results map is redis-results.ts.
 * This file must not know about the runner or the CLI.
 */

import { randomBytes } from 'node:crypto';
import { checkBoolean, checkInteger, checkSeconds, checkString } from '../cache/checks.js';
import { LeaseLostError, QueueNotFoundError } from '../cache/errors.js';
import { abortError } from '../cache/waiting.js';
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
} from '../collections/async-work-queue.js';
import { backoffFor, errorText } from '../collections/work-queue-codec.js';
import {
  type FailOptions,
  type FailOutcome,
  splitAckItems,
} from '../collections/work-queue-job.js';
import type { WorkQueueOptions } from '../collections/work-queue-schema.js';
import {
  checkQueueSettings,
  DEFAULT_QUEUE_SETTINGS,
  NUMERIC_SETTINGS,
  type NumericQueueSetting,
  type QueueSettings,
  SETTING_NAMES,
} from '../collections/work-queue-settings.js';
import type {
  FailedJob,
  NextOptions,
  PutManyOptions,
  PutOptions,
  TakeOptions,
  WorkQueueStats,
} from '../collections/work-queue-types.js';
import { type RedisLike, redacted, ScriptRunner } from './redis-client.js';
import { decodeValue, encodeValue, resultField } from './redis-codec.js';
import { quitClient, resolveTarget, wakeUpOn } from './redis-handle.js';
import { redisResults } from './redis-results.js';
import { type ScriptName, scriptText } from './scripts.js';

/** Version of the key layout (scripts.ts); a newer one in Redis is refused rather than misread. */
export const REDIS_SCHEMA_VERSION = 1;

/** Jobs per script call for putMany, retryFailed, purgeDone and failed (a script blocks the server). */
const CHUNK = 1000;
/** First and longest sleep of `next()` between polls, in seconds (pub/sub wakes it sooner). */
const POLL_START_SECONDS = 0.01;
const POLL_CAP_SECONDS = 1;

/** Options of `new RedisWorkQueue(locator, options)`: the WorkQueue's, stored in Redis. */
export interface RedisWorkQueueOptions extends Omit<WorkQueueOptions, 'timeout'> {
  /**
   * Whether opening creates the queue when it does not exist. With `false` nothing is written
   * to Redis for a queue never created (its `settings` hash absent): every call rejects with
   * `QueueNotFoundError` instead (and tries again, so it works once the queue is created).
   * For tools that only look (`diskcache queue stats`). @default true
   */
  readonly create?: boolean;
}

/** A queue on a client you own (it is not closed by `close()`). */
export interface RedisQueueTarget {
  readonly client: RedisLike;
  /** The queue's name: its keys are `dq:{name}:…`. */
  readonly name: string;
}

/** What one take script call returns: the jobs, the server time, and when work may be ready. */
interface Taken<T> {
  readonly jobs: AsyncJob<T>[];
  readonly nowMs: number;
  /** The earliest ready time or lease expiry (server ms) when nothing was taken; -1 for none. */
  readonly nextMs: number;
}

function checkKey(key: unknown): string | undefined {
  if (key === undefined) return undefined;
  return checkString('key', key, { allowEmpty: true });
}

function delayOf(delaySeconds: number | undefined): number {
  return delaySeconds === undefined
    ? 0
    : checkSeconds('delaySeconds', delaySeconds, { allowZero: true });
}

/**
 * A work queue in Redis, shared by any number of processes on any number of machines. See
 * `AsyncWorkQueue` for what each method does; this class adds only how to open it.
 *
 * Durability is Redis's: with `appendonly yes` and `appendfsync everysec`, a server crash loses at
 * most the last second of changes (an ack lost that way means the job runs again; a put lost that
 * way is gone, so queue with keys and re-queue after a crash). See docs/scale-out.md.
 *
 * Not guaranteed: `putMany` is atomic per 1,000 jobs (one script call each), not as a whole. A
 * call in flight when the connection drops is sent again after the reconnection (ioredis's
 * default); ack, fail, extend and release are idempotent for that, but a keyless put may add its
 * job twice, and a take may leave jobs leased to nobody until their lease runs out.
 */
export class RedisWorkQueue<T = unknown> implements AsyncWorkQueue<T> {
  readonly locator: string;
  readonly name: string;
  readonly #prefix: string;
  readonly #given: Partial<QueueSettings>;
  readonly #create: boolean;
  readonly #ownsClient: boolean;
  #settings: QueueSettings;
  #client: RedisLike | undefined;
  #scripts: ScriptRunner | undefined;
  readonly #connect: () => Promise<RedisLike>;
  #connecting: Promise<RedisLike> | undefined;
  #opening: Promise<void> | undefined;
  #subscriber: Promise<RedisLike> | undefined;
  readonly #waiters = new Set<() => void>();
  #closed = false;
  readonly results: AsyncResults;

  /**
   * Opens (creating on first use, unless `create: false`) the queue named by `locator`, `redis://[user:password@]host
   * [:port][/db]#name` (`rediss://` for TLS), on a new ioredis connection; or the queue `name` on
   * your `client`. Options given are stored in Redis, so later openers inherit them. The
   * connection is made in the background: the first call waits for it. When Redis cannot be
   * reached, calls reject (after ioredis's reconnection attempts, about 10 s) and later calls try
   * again: a queue object outlives an outage.
   * @throws TypeError / RangeError for a bad locator, name or option.
   */
  constructor(locator: string | RedisQueueTarget, options: RedisWorkQueueOptions = {}) {
    if ((options as WorkQueueOptions).timeout !== undefined)
      throw new TypeError('a Redis queue has no timeout option (it takes no lock)');
    if ((options as WorkQueueOptions).disk !== undefined)
      throw new TypeError('a Redis queue has no disk option (its results are stored in Redis)');
    const { create, ...settings } = options;
    this.#create = create === undefined || checkBoolean('create', create);
    this.#given = checkQueueSettings(settings);
    this.#settings = { ...DEFAULT_QUEUE_SETTINGS, ...this.#given };
    const target = resolveTarget('new RedisWorkQueue()', locator);
    this.name = target.name;
    this.locator = target.locator;
    this.#ownsClient = target.ownsClient;
    this.#prefix = `dq:{${this.name}}:`;
    this.#connect = target.connect;
    // Start connecting now; a failure is reported by the first call (and retried by the next).
    this.#ready().catch(() => {});
    this.results = redisResults((name, args) => this.#run(name, args));
  }

  /** The prefix of every key of this queue (`dq:{name}:`). */
  get keyPrefix(): string {
    return this.#prefix;
  }

  /** The options in force (given, else stored in Redis, else the defaults), once opened. */
  async settings(): Promise<Readonly<QueueSettings>> {
    await this.#ready();
    return Object.freeze({ ...this.#settings });
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Connected and the settings read; a failed attempt is forgotten, so the next call retries. */
  #ready(): Promise<void> {
    this.#opening ??= this.#open().catch((error: unknown) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  async #open(): Promise<void> {
    // The client is made once (ioredis reconnects by itself); only the settings read is retried.
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    this.#client = await this.#connecting;
    this.#scripts ??= new ScriptRunner(this.#client, this.#prefix);
    const args: (string | number)[] = [REDIS_SCHEMA_VERSION, this.#create ? '1' : '0'];
    for (const [name, value] of Object.entries(this.#given))
      args.push(SETTING_NAMES[name as NumericQueueSetting], value);
    const flat = (await this.#scripts.run(scriptText('init'), args)) as string[] | null;
    if (flat === null)
      throw new QueueNotFoundError(
        `work queue ${redacted(this.locator)} does not exist (no ${this.#prefix}settings in Redis; nothing was created)`,
      );
    for (const name of NUMERIC_SETTINGS) {
      const index = flat.indexOf(SETTING_NAMES[name]);
      if (index >= 0 && index % 2 === 0) {
        const value = Number(flat[index + 1]);
        if (Number.isFinite(value)) this.#settings[name] = value;
      }
    }
  }

  async #run(name: ScriptName, args: (string | number)[]): Promise<unknown> {
    if (this.#closed) throw new Error(`the work queue ${redacted(this.locator)} is closed`);
    await this.#ready();
    return this.#scripts!.run(scriptText(name), args);
  }

  #lease(job: AsyncJob<T>): AsyncLease {
    return leaseOf(this as AsyncWorkQueue<unknown>, job as AsyncJob<unknown>);
  }

  /** Explains why a fenced script refused `job`. */
  async #leaseLost(job: AsyncJob<T>, action: string): Promise<LeaseLostError> {
    const lease = this.#lease(job);
    let reason: string;
    if (lease.settled) reason = 'this job object was already settled';
    else {
      const [state, attempt, token] = (await this.#run('lookup', [job.id])) as [
        string,
        string | null,
        string | null,
      ];
      if (state === 'gone') reason = 'it no longer exists (done jobs are removed by purgeDone)';
      else if (token !== lease.token)
        reason = `its lease expired and it was taken again (now attempt ${attempt})`;
      else if (state === 'pending') reason = 'its lease expired and it went back to pending';
      else if (state === 'failed') reason = 'its lease expired and it moved to the failed list';
      else reason = 'it is already done';
    }
    return new LeaseLostError(`cannot ${action} job ${job.id} (attempt ${job.attempt}): ${reason}`);
  }

  // ---- putting --------------------------------------------------------------------------------

  async put(payload: T, options: PutOptions = {}): Promise<number | undefined> {
    const key = checkKey(options.key);
    const delay = delayOf(options.delaySeconds);
    const value = encodeValue(payload);
    const [id] = (await this.#run('put', [
      Math.round(delay * 1000),
      key === undefined ? '0' : '1',
      key ?? '',
      value,
    ])) as number[];
    return id === 0 ? undefined : id;
  }

  async putMany(
    payloads: Iterable<T>,
    options: PutManyOptions<T> = {},
  ): Promise<(number | undefined)[]> {
    const delayMs = Math.round(delayOf(options.delaySeconds) * 1000);
    if (options.key !== undefined && typeof options.key !== 'function')
      throw new TypeError('key must be a function (payload, index) => string | undefined');
    // Encode everything first: a payload that cannot be stored rejects before anything is added.
    const rows: (string | number)[][] = [];
    let args: (string | number)[] = [delayMs];
    let index = 0;
    for (const payload of payloads) {
      const key = checkKey(options.key?.(payload, index));
      args.push(key === undefined ? '0' : '1', key ?? '', encodeValue(payload));
      index++;
      if (index % CHUNK === 0) {
        rows.push(args);
        args = [delayMs];
      }
    }
    if (args.length > 1) rows.push(args);
    const ids: (number | undefined)[] = [];
    for (const chunk of rows) {
      for (const id of (await this.#run('put', chunk)) as number[])
        ids.push(id === 0 ? undefined : id);
    }
    return ids;
  }

  // ---- taking ---------------------------------------------------------------------------------

  async take(options?: TakeOptions): Promise<AsyncJob<T> | undefined> {
    return (await this.takeMany(1, options))[0];
  }

  async takeMany(max: number, options: TakeOptions = {}): Promise<AsyncJob<T>[]> {
    return (await this.#take(max, options)).jobs;
  }

  /** One take script call: the jobs, and when something may next be ready (server ms, -1: never). */
  async #take(max: number, options: TakeOptions): Promise<Taken<T>> {
    checkInteger('max', max);
    const leaseSeconds =
      options.leaseSeconds === undefined
        ? undefined
        : checkSeconds('leaseSeconds', options.leaseSeconds);
    if (this.#closed) throw new Error(`the work queue ${redacted(this.locator)} is closed`);
    await this.#ready();
    if (max === 0) return { jobs: [], nowMs: 0, nextMs: -1 };
    const nonce = randomBytes(8).toString('hex');
    const out = (await this.#run('take', [
      max,
      Math.round((leaseSeconds ?? this.#settings.leaseSeconds) * 1000),
      this.#settings.maxAttempts,
      nonce,
    ])) as (number | string | null)[];
    const [nowMs, expiresMs, nextMs] = out as number[];
    const expires = expiresMs! / 1000;
    const jobs: AsyncJob<T>[] = [];
    for (let i = 3; i < out.length; i += 5) {
      const lease: AsyncLease = {
        queue: this as AsyncWorkQueue<unknown>,
        token: out[i + 2],
        expires,
        settled: false,
      };
      const key = out[i + 4];
      jobs.push(
        new AsyncJob<T>(
          lease,
          out[i] as number,
          typeof key === 'string' ? key : undefined,
          decodeValue(out[i + 3]) as T,
          out[i + 1] as number,
        ),
      );
    }
    return { jobs, nowMs: nowMs!, nextMs: nextMs! };
  }

  async next(options: NextOptions = {}): Promise<AsyncJob<T> | undefined> {
    const { signal } = options;
    const timeout =
      options.timeoutSeconds === undefined
        ? Number.POSITIVE_INFINITY
        : checkSeconds('timeoutSeconds', options.timeoutSeconds, { allowZero: true });
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new TypeError('signal must be an AbortSignal');
    const deadline = performance.now() / 1000 + timeout;
    let delay = POLL_START_SECONDS;
    let subscribed = false;
    for (;;) {
      if (signal?.aborted) throw abortError(signal, 'the wait for work');
      // Listen before looking, so that a put between the look and the sleep still wakes us.
      const woken = this.#wakeSignal();
      let taken: Taken<T>;
      try {
        taken = await this.#take(1, options);
      } catch (error) {
        woken.cancel();
        throw error;
      }
      const { jobs, nowMs, nextMs } = taken;
      if (jobs[0] !== undefined) {
        woken.cancel();
        return jobs[0];
      }
      const remaining = deadline - performance.now() / 1000;
      if (remaining <= 0) {
        woken.cancel();
        return undefined;
      }
      if (!subscribed) {
        subscribed = true;
        // Subscribing takes a round trip: look again right after, in case work came meanwhile.
        try {
          await this.#subscribe();
          woken.cancel();
          continue;
        } catch {
          // No pub/sub (a proxy that refuses SUBSCRIBE): polling alone still works.
        }
      }
      let wait = Math.min(delay, remaining);
      if (nextMs >= 0) wait = Math.min(wait, Math.max(0, nextMs - nowMs) / 1000 + 0.001);
      await woken.wait(wait, signal);
      delay = Math.min(delay * 2, POLL_CAP_SECONDS);
    }
  }

  /** A wake-up registered now; `wait` sleeps until it fires, the time passes, or `signal` aborts. */
  #wakeSignal(): { wait(seconds: number, signal?: AbortSignal): Promise<void>; cancel(): void } {
    const woken = wakeUpOn((wake) => {
      this.#waiters.add(wake);
      return () => this.#waiters.delete(wake);
    }, 'the wait for work');
    return {
      wait: (seconds, signal) => woken.wait(seconds * 1000, signal),
      cancel: woken.cancel,
    };
  }

  /** One subscriber connection per queue object, on `dq:{name}:wake`. */
  #subscribe(): Promise<RedisLike> {
    this.#subscriber ??= (async () => {
      await this.#ready();
      const subscriber = this.#client!.duplicate();
      subscriber.on('error', () => {});
      subscriber.on('message', () => {
        for (const wake of [...this.#waiters]) wake();
      });
      try {
        await subscriber.subscribe(`${this.#prefix}wake`);
      } catch (error) {
        subscriber.disconnect();
        this.#subscriber = undefined; // try again at the next wait
        throw error;
      }
      return subscriber;
    })();
    return this.#subscriber;
  }

  // ---- settling -------------------------------------------------------------------------------

  async ack(job: AsyncJob<T>, result?: unknown): Promise<void> {
    const lost = await this.ackMany([{ job, result }]);
    if (lost.length > 0) throw await this.#leaseLost(job, 'ack');
  }

  async ackMany(items: Iterable<AsyncAckItem<T>>): Promise<AsyncJob<T>[]> {
    const entries: { job: AsyncJob<T>; lease: AsyncLease }[] = [];
    const args: (string | number)[] = [];
    const lost: AsyncJob<T>[] = [];
    const [jobs, results] = splitAckItems<AsyncJob<T>>(items, AsyncJob);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const result = results[i];
      const lease = this.#lease(job);
      if (lease.settled) {
        lost.push(job);
        continue;
      }
      // Encoding first: a result that cannot be stored rejects before anything is acked.
      const value = result === undefined ? '' : encodeValue(result);
      entries.push({ job, lease });
      args.push(
        job.id,
        lease.token as string,
        result === undefined ? '' : resultField(job.key ?? job.id),
        value,
      );
    }
    if (entries.length === 0) return lost;
    const flags = (await this.#run('ack', args)) as number[];
    entries.forEach(({ job, lease }, i) => {
      if (flags[i] === 1) lease.settled = true;
      else lost.push(job);
    });
    return lost;
  }

  async fail(job: AsyncJob<T>, error: unknown, options: FailOptions = {}): Promise<FailOutcome> {
    const lease = this.#lease(job);
    const retryIn =
      options.retryInSeconds === undefined
        ? undefined
        : checkSeconds('retryInSeconds', options.retryInSeconds, { allowZero: true });
    if (lease.settled) throw await this.#leaseLost(job, 'fail');
    await this.#ready();
    const final = job.attempt >= this.#settings.maxAttempts;
    const delay = final ? 0 : (retryIn ?? this.backoffSeconds(job.attempt));
    const changed = await this.#run('fail', [
      job.id,
      lease.token as string,
      final ? '1' : '0',
      Math.round(delay * 1000),
      errorText(error),
    ]);
    if (changed !== 1) throw await this.#leaseLost(job, 'fail');
    lease.settled = true;
    return final ? 'failed' : 'retrying';
  }

  backoffSeconds(attempt: number): number {
    return backoffFor(this.#settings.backoffSeconds, attempt);
  }

  async extend(job: AsyncJob<T>, seconds?: number): Promise<void> {
    const lost = await this.extendMany([job], seconds);
    if (lost.length > 0) throw await this.#leaseLost(job, 'extend');
  }

  async extendMany(jobs: Iterable<AsyncJob<T>>, seconds?: number): Promise<AsyncJob<T>[]> {
    if (seconds !== undefined) checkSeconds('seconds', seconds);
    const { live, lost, args } = this.#fenceArgs(jobs);
    if (live.length === 0) return lost;
    await this.#ready();
    const length = seconds ?? this.#settings.leaseSeconds;
    const out = (await this.#run('extend', [Math.round(length * 1000), ...args])) as number[];
    const expires = out[0]! / 1000;
    live.forEach(({ job, lease }, i) => {
      if (out[i + 1] === 1) lease.expires = expires;
      else lost.push(job);
    });
    return lost;
  }

  async release(job: AsyncJob<T>): Promise<void> {
    const lost = await this.releaseMany([job]);
    if (lost.length > 0) throw await this.#leaseLost(job, 'release');
  }

  async releaseMany(jobs: Iterable<AsyncJob<T>>): Promise<AsyncJob<T>[]> {
    const { live, lost, args } = this.#fenceArgs(jobs);
    if (live.length === 0) return lost;
    const flags = (await this.#run('release', args)) as number[];
    live.forEach(({ job, lease }, i) => {
      if (flags[i] === 1) lease.settled = true;
      else lost.push(job);
    });
    return lost;
  }

  async releaseById(jobs: Iterable<LeaseId>): Promise<number[]> {
    const args: number[] = [];
    for (const { id, attempt } of jobs)
      args.push(checkInteger('id', id, { min: 1 }), checkInteger('attempt', attempt, { min: 1 }));
    if (args.length === 0) return [];
    return (await this.#run('releaseById', args)) as number[];
  }

  /** (id, token) pairs of the jobs not yet settled; the settled ones are lost already. */
  #fenceArgs(jobs: Iterable<AsyncJob<T>>) {
    const live: { job: AsyncJob<T>; lease: AsyncLease }[] = [];
    const lost: AsyncJob<T>[] = [];
    const args: (string | number)[] = [];
    for (const job of jobs) {
      const lease = this.#lease(job);
      if (lease.settled) lost.push(job);
      else {
        live.push({ job, lease });
        args.push(job.id, lease.token as string);
      }
    }
    return { live, lost, args };
  }

  // ---- inspecting and maintenance -------------------------------------------------------------

  async stats(): Promise<WorkQueueStats> {
    const [pending, leased, done, failed] = (await this.#run('stats', [])) as number[];
    return { pending: pending!, leased: leased!, done: done!, failed: failed! };
  }

  async isDrained(): Promise<boolean> {
    const { pending, leased } = await this.stats();
    return pending === 0 && leased === 0;
  }

  async failed(options: FailedListOptions = {}): Promise<FailedJob<T>[]> {
    const limit =
      options.limit === undefined ? Number.MAX_SAFE_INTEGER : checkInteger('limit', options.limit);
    const jobs: FailedJob<T>[] = [];
    while (jobs.length < limit) {
      const count = Math.min(CHUNK, limit - jobs.length);
      const out = (await this.#run('failed', [jobs.length, count])) as (number | string | null)[];
      for (let i = 0; i < out.length; i += 6) {
        jobs.push({
          id: out[i] as number,
          key: typeof out[i + 1] === 'string' ? (out[i + 1] as string) : undefined,
          attempts: Number(out[i + 2] ?? 0),
          error: (out[i + 3] as string | null) ?? '',
          failedAt: Number(out[i + 4] ?? 0) / 1000,
          payload: decodeValue(out[i + 5]) as T,
        });
      }
      if (out.length < count * 6) break;
    }
    return jobs;
  }

  async retryFailed(): Promise<number> {
    let total = 0;
    for (;;) {
      const moved = (await this.#run('retryFailed', [CHUNK])) as number;
      total += moved;
      if (moved < CHUNK) return total;
    }
  }

  async purgeDone(options: PurgeDoneOptions = {}): Promise<number> {
    const age =
      options.olderThanSeconds === undefined
        ? 0
        : checkSeconds('olderThanSeconds', options.olderThanSeconds, { allowZero: true });
    let total = 0;
    for (;;) {
      const removed = (await this.#run('purgeDone', [Math.round(age * 1000), CHUNK])) as number;
      total += removed;
      if (removed < CHUNK) return total;
    }
  }

  /**
   * Closes the subscriber, and the connection if this object made it (a client you passed in
   * stays open). Jobs still leased stay leased until their lease runs out.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of [...this.#waiters]) wake();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber !== undefined) {
      const connection = await subscriber.catch(() => undefined);
      connection?.disconnect();
    }
    const client = await this.#connecting?.catch(() => undefined);
    if (this.#ownsClient && client !== undefined) await quitClient(client);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
