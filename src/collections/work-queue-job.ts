/**
 * work-queue-job: the Job a worker holds while its lease lasts. A Job only carries what the
 * worker may read; its lease token lives in a WeakMap shared only with WorkQueue (not exported by
 * the package), so it cannot be forged or changed from outside. Settling delegates to the WorkQueue that took it.
 */
import { checkTag, type Seconds } from '../cache/checks.js';
import type { Tag } from '../cache/types.js';
import type { WorkQueue } from './work-queue.js';

/** Options of `fail`. */
export interface FailOptions {
  /** Seconds before the retry may be taken. @default exponential backoff from `backoffSeconds` */
  readonly retryInSeconds?: Seconds;
}

/**
 * An entry of `ackMany`: a job, or a job with the result to store and, optionally, the tag its
 * results entry gets (the row's tag, as `Cache.set`'s; `results.cache.tagCounts()` counts them
 * without reading a result). A queue on Redis keeps no tags and ignores it.
 */
export type AckItem<T> =
  | Job<T>
  | { readonly job: Job<T>; readonly result?: unknown; readonly tag?: Tag };

/** What `fail` did with the job. */
export type FailOutcome = 'retrying' | 'failed';

/**
 * @internal The state of one lease that the queue's fenced statements read and update: the
 * lease token, the expiry as far as this process knows, and whether it was settled.
 */
export interface LeaseState {
  readonly token: number;
  expires: number;
  settled: boolean;
}

/** @internal What settling reads of a job object (a Job, or an AsyncJob of `workQueue.async`). */
export interface LeasedJob {
  readonly id: number;
  readonly key: string | undefined;
  readonly attempt: number;
}

/**
 * @internal Splits ack items (a job of class `jobClass`, or `{ job, result, tag }`) into the list
 * of jobs, the list of their results (`undefined` for a bare job) and, when any item names a tag,
 * the list of their tags, as the acks take them.
 * @throws TypeError for a tag that is not a Tag
 */
export function splitAckItems<J extends object>(
  items: Iterable<J | { readonly job: J; readonly result?: unknown; readonly tag?: Tag }>,
  jobClass: abstract new (...args: never[]) => J,
): [J[], unknown[], (Tag | undefined)[] | undefined] {
  const jobs: J[] = [];
  const results: unknown[] = [];
  let tags: (Tag | undefined)[] | undefined;
  for (const item of items) {
    if (item instanceof jobClass) {
      jobs.push(item);
      results.push(undefined);
    } else {
      const entry = item as { readonly job: J; readonly result?: unknown; readonly tag?: Tag };
      if (entry.tag !== undefined) {
        tags ??= new Array<Tag | undefined>(jobs.length);
        tags[jobs.length] = checkTag('tag', entry.tag, { where: 'ackMany' });
      }
      jobs.push(entry.job);
      results.push(entry.result);
    }
  }
  return [jobs, results, tags];
}

/** @internal What the queue knows about one lease of one Job object. */
export interface Lease extends LeaseState {
  readonly queue: WorkQueue<unknown>;
}

/** The lease behind each Job object; kept out of the Job so users cannot forge a token. */
export const leases = new WeakMap<Job<unknown>, Lease>();

/**
 * A leased job, as returned by `take`, `takeMany` and `next`. Settle it once with `ack`, `fail`
 * or `release`; call `extend` while it runs longer than its lease.
 */
export class Job<T = unknown> {
  /** The job's id (an INTEGER PRIMARY KEY, increasing in put order). */
  readonly id: number;
  /** Its idempotency key, if it was put with one. */
  readonly key: string | undefined;
  readonly payload: T;
  /** 1 for the first lease, 2 for the second, … (expired leases count). */
  readonly attempt: number;

  /** @internal Created by WorkQueue only. */
  constructor(lease: Lease, id: number, key: string | undefined, payload: T, attempt: number) {
    this.id = id;
    this.key = key;
    this.payload = payload;
    this.attempt = attempt;
    leases.set(this as Job<unknown>, lease);
  }

  /** When the lease runs out, in epoch seconds (as far as this process knows). */
  get leaseExpiresAt(): number {
    return leases.get(this as Job<unknown>)!.expires;
  }

  /** Whether `ack`, `fail` or `release` succeeded on this object. */
  get settled(): boolean {
    return leases.get(this as Job<unknown>)!.settled;
  }

  /**
   * Marks the job done and stores `result` (unless undefined) in the queue's results.
   * @throws LeaseLostError when the lease was lost (another worker may have the job).
   */
  ack(result?: unknown): void {
    leases.get(this as Job<unknown>)!.queue.ack(this as Job<unknown>, result);
  }

  /**
   * Records a failure: the job is retried after a backoff, or moves to the failed list after
   * `maxAttempts`. @throws LeaseLostError when the lease was lost.
   */
  fail(error: unknown, options?: FailOptions): FailOutcome {
    return leases.get(this as Job<unknown>)!.queue.fail(this as Job<unknown>, error, options);
  }

  /**
   * Extends the lease to `seconds` from now (a heartbeat). @default the lease length it was taken with
   * @throws LeaseLostError when the lease was lost.
   */
  extend(seconds?: number): void {
    leases.get(this as Job<unknown>)!.queue.extend(this as Job<unknown>, seconds);
  }

  /** Gives the job back to pending at once; the attempt does not count. @throws LeaseLostError */
  release(): void {
    leases.get(this as Job<unknown>)!.queue.release(this as Job<unknown>);
  }
}
