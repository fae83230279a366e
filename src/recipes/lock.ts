/**
 * Lock: a mutex shared by every process (and thread) that opens the same cache, as diskcache's
 * `Lock` — the lock is the entry `key`, taken with the atomic `cache.add`. Unlike diskcache the
 * entry holds an owner token, so a release only removes the holder's own lock (never one that
 * expired and was taken by someone else). Not re-entrant: see RLock.
 */
import { NotOwnedError } from '../cache/errors.js';
import { CacheLock } from './cache-lock.js';
import { ownerToken } from './options.js';
import type { LockOptions, RecipeCache } from './types.js';

const RETRY = { retry: true } as const;

/**
 * A cross-process mutex on one cache key.
 *
 * One `Lock` object is one owner: share it between the tasks of a process like any mutex (they
 * queue), or give each its own object; either way only one holder at a time, in all processes.
 * With `expire`, a hold ends by itself after that many seconds, so a process that died holding the
 * lock blocks others at most that long. The entry's value is the holder's token (a string), so
 * `cache.get(key)` tells who holds it; Python's diskcache `Lock` on the same key excludes it too.
 *
 * Not guaranteed: fairness between processes (waiters poll with backoff up to 50 ms; in one process
 * a release wakes the oldest waiter at once).
 *
 * @example
 * const lock = new Lock(cache, 'report', { expire: 60 });
 * await lock.run(async () => { await buildReport(); });
 * // or: await using held = await lock.acquire({ timeout: 5 });
 */
export class Lock extends CacheLock {
  /** The token this object stored when it took the lock, or undefined. */
  #token: string | undefined;

  constructor(cache: RecipeCache, key: unknown, options?: LockOptions) {
    super('Lock', cache, key, options);
  }

  tryAcquire(): boolean {
    const token = ownerToken();
    return this.#took(token, this.cache.add(this.key, token, this.#addOptions()));
  }

  async tryAcquireAsync(): Promise<boolean> {
    const token = ownerToken();
    return this.#took(token, await this.cache.async.add(this.key, token, this.#addOptions()));
  }

  #addOptions() {
    return { expire: this.expire, tag: this.tag, retry: true };
  }

  #took(token: string, added: boolean): boolean {
    if (added) this.#token = token;
    return added;
  }

  /**
   * Deletes the lock's entry if this object holds it.
   * @throws NotOwnedError when this object does not hold the lock: it never took it, already released
   * it, or its hold expired (then the lock may be someone else's now, and stays theirs).
   */
  release(): void {
    const token = this.#token;
    this.#token = undefined;
    this.#released(token, token !== undefined && this.cache.transact(this.#drop(token), RETRY));
  }

  /** `release()` without blocking the event loop on a busy database. */
  async releaseAsync(): Promise<void> {
    const token = this.#token;
    this.#token = undefined;
    this.#released(
      token,
      token !== undefined && (await this.cache.async.transact(this.#drop(token), RETRY)),
    );
  }

  /** The transaction that deletes the entry if `token` still holds it. */
  #drop(token: string): () => boolean {
    return () => this.cache.get(this.key, RETRY) === token && this.cache.delete(this.key, RETRY);
  }

  #released(token: string | undefined, released: boolean): void {
    if (!released) {
      throw new NotOwnedError(
        token === undefined
          ? `${this.what} is not held by this Lock object`
          : `${this.what} expired before release (its expire is ${this.expire} s)`,
      );
    }
    this.wakeWaiter();
  }

  locked(): boolean {
    return this.cache.has(this.key);
  }

  protected holdsHere(): boolean {
    return this.#token !== undefined;
  }
}
