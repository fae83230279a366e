/**
 * BoundedSemaphore: at most `value` holders at a time across every process on the cache.
 * diskcache stores only a counter, so a permit held by a process that dies is lost for good; here
 * the entry stores each holder with its own expiry time, and expired holders stop counting, so with
 * `expire` the permits of a dead process come back by themselves.
 */
import { NotOwnedError } from '../cache/errors.js';
import { CacheLock } from './cache-lock.js';
import { ownerToken } from './options.js';
import type { LockOptions, RecipeCache } from './types.js';

/** Options of `new BoundedSemaphore()`. */
export interface BoundedSemaphoreOptions extends LockOptions {
  /**
   * How many holders at most at a time. Every user of the key must pass the same value.
   * @default 1
   */
  readonly value?: number;
}

const RETRY = { retry: true } as const;

/** Holder token → absolute expiry time (epoch seconds) or null (never). */
type Holders = Record<string, number | null>;

function liveHolders(value: unknown, now: number): Holders {
  const live: Holders = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return live;
  for (const [token, expireTime] of Object.entries(value as Record<string, unknown>)) {
    if (expireTime === null || (typeof expireTime === 'number' && expireTime > now))
      live[token] = expireTime;
  }
  return live;
}

/**
 * A cross-process semaphore with `value` permits.
 *
 * One `BoundedSemaphore` object may hold several permits (for several tasks of a process);
 * `release()` gives back the oldest one it still holds. With `expire`, each permit lapses that many
 * seconds after it was taken: the permits of a process that died (or hangs) come back then, and a
 * release after that throws `NotOwnedError`. Without `expire` they never lapse (as in diskcache).
 *
 * Not guaranteed: fairness; that all processes agree on `value` (the entry does not store it).
 * The value format (holders with their expiry, serialized) is not diskcache's permit counter.
 *
 * @example
 * const downloads = new BoundedSemaphore(cache, 'downloads', { value: 3, expire: 120 });
 * await downloads.run(() => download(url)); // at most 3 downloads at once, machine-wide
 */
export class BoundedSemaphore extends CacheLock {
  /** Number of permits. */
  readonly value: number;
  /** Tokens of the permits this object holds, oldest first. */
  readonly #tokens: string[] = [];

  constructor(cache: RecipeCache, key: unknown, options?: BoundedSemaphoreOptions) {
    super('BoundedSemaphore', cache, key, options);
    const value = options?.value ?? 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(
        `new BoundedSemaphore(): value must be an integer >= 1, got ${String(value)}`,
      );
    }
    this.value = value;
  }

  tryAcquire(): boolean {
    const token = ownerToken();
    return this.#took(token, this.cache.transact(this.#take(token), RETRY));
  }

  async tryAcquireAsync(): Promise<boolean> {
    const token = ownerToken();
    return this.#took(token, await this.cache.async.transact(this.#take(token), RETRY));
  }

  /** The transaction that adds `token` as a holder when a permit is free. */
  #take(token: string): () => boolean {
    return () => {
      const now = Date.now() / 1000;
      const holders = liveHolders(this.cache.get(this.key, RETRY), now);
      if (Object.keys(holders).length >= this.value) return false;
      holders[token] = this.expire === null ? null : now + this.expire;
      this.#store(holders, now);
      return true;
    };
  }

  #took(token: string, taken: boolean): boolean {
    if (taken) this.#tokens.push(token);
    return taken;
  }

  /**
   * Gives back the oldest permit this object still holds.
   * @throws NotOwnedError when this object holds no permit (never took one, released them all, or
   * they expired).
   */
  release(): void {
    this.#released(this.cache.transact(this.#give, RETRY));
  }

  /** `release()` without blocking the event loop on a busy database. */
  async releaseAsync(): Promise<void> {
    this.#released(await this.cache.async.transact(this.#give, RETRY));
  }

  /** The transaction that gives back the oldest permit this object still holds. */
  readonly #give = (): boolean => {
    const now = Date.now() / 1000;
    const holders = liveHolders(this.cache.get(this.key, RETRY), now);
    const index = this.#tokens.findIndex((token) => token in holders);
    const lapsed = index < 0 ? this.#tokens.length : index;
    const token = this.#tokens[index];
    this.#tokens.splice(0, token === undefined ? lapsed : lapsed + 1); // lapsed permits are gone for good
    if (token === undefined) return false;
    delete holders[token];
    this.#store(holders, now);
    return true;
  };

  #released(released: boolean): void {
    if (!released)
      throw new NotOwnedError(
        `${this.what} has no permit held by this object (none taken, all released, or expired)`,
      );
    this.wakeWaiter();
  }

  /** Whether every permit is taken now (so `tryAcquire()` would fail). */
  locked(): boolean {
    return this.available() === 0;
  }

  /** How many permits are free now. */
  available(): number {
    const holders = liveHolders(this.cache.get(this.key, { retry: true }), Date.now() / 1000);
    return Math.max(0, this.value - Object.keys(holders).length);
  }

  protected holdsHere(): boolean {
    return this.#tokens.length > 0;
  }

  /** Writes the holders back; the entry expires with its last holder, or goes when none is left. */
  #store(holders: Holders, now: number): void {
    const times = Object.values(holders);
    if (times.length === 0) {
      this.cache.delete(this.key, { retry: true });
      return;
    }
    const expire = times.includes(null) ? null : Math.max(...(times as number[])) - now;
    this.cache.set(this.key, holders, { expire, tag: this.tag, retry: true });
  }
}
