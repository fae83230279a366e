/**
 * The shape shared by Lock, RLock and BoundedSemaphore: `acquire()` waits (with backoff, timeout
 * and abort) for `tryAcquire()` to succeed, `run(fn)` holds the lock around `fn`, and
 * `await using` releases it. Subclasses decide what holding means; this file never touches the cache.
 */
import type { Tag } from '../cache/types.js';
import { waitFor, wakeOne } from '../cache/waiting.js';
import { channelOf, checkCache, checkLockOptions, describeKey } from './options.js';
import type { AcquireOptions, LockOptions, RecipeCache } from './types.js';

/** A lock-like object, as `barrier()` needs it. */
export interface Acquirable {
  acquire(options?: AcquireOptions): Promise<unknown>;
  /** Synchronous for the SQLite locks, a promise for the Redis ones. */
  release(): void | Promise<void>;
  /** `release()` without blocking the event loop, when the lock has one (the SQLite locks). */
  releaseAsync?(): Promise<void>;
}

/**
 * Acquires `lock`, runs `fn`, releases. When `fn` throws, that error wins over a failing release
 * (a hold that expired meanwhile); when `fn` succeeds, a failing release is thrown, because the
 * caller must learn that the lock did not cover the whole call.
 */
export async function underLock<T>(
  lock: Acquirable,
  fn: () => T | PromiseLike<T>,
  options?: AcquireOptions,
): Promise<T> {
  await lock.acquire(options);
  let failed = false;
  try {
    return await fn();
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      await (lock.releaseAsync ? lock.releaseAsync() : lock.release());
    } catch (error) {
      // biome-ignore lint/correctness/noUnsafeFinally: the release error must reach the caller when fn succeeded.
      if (!failed) throw error;
    }
  }
}

/** Base class of the cross-process locks. */
export abstract class CacheLock implements Acquirable, AsyncDisposable {
  /** The cache holding the lock's entry. */
  readonly cache: RecipeCache;
  /** The key of the lock's entry. */
  readonly key: unknown;
  /** Seconds a hold lasts at most, or null for ever. */
  readonly expire: number | null;
  readonly tag: Tag;
  /** In-process wake-up channel of the key. */
  protected readonly channel: string;
  readonly #what: string;

  constructor(kind: string, cache: RecipeCache, key: unknown, options: LockOptions | undefined) {
    this.cache = checkCache(cache, `new ${kind}()`);
    const checked = checkLockOptions(options, `new ${kind}()`);
    this.channel = channelOf(this.cache, key); // throws TypeError for keys a cache cannot hold
    this.key = key;
    this.expire = checked.expire;
    this.tag = checked.tag;
    this.#what = `${kind} ${describeKey(key)}`;
  }

  /**
   * Takes the lock if it is free now; never waits for a holder (it may wait, blocking, for a busy
   * write lock of the database, up to the cache's `timeout`: in a server use `tryAcquireAsync`).
   */
  abstract tryAcquire(): boolean;

  /** `tryAcquire()` that waits for a busy database with async pauses (the event loop stays free). */
  abstract tryAcquireAsync(): Promise<boolean>;

  /** Gives the lock back. @throws NotOwnedError when this owner does not hold it (any more). */
  abstract release(): void;

  /** `release()` that waits for a busy database with async pauses (the event loop stays free). */
  abstract releaseAsync(): Promise<void>;

  /** Whether anyone (in any process) holds the lock now. */
  abstract locked(): boolean;

  /** Whether this object believes it holds the lock in the current context (decides what dispose does). */
  protected abstract holdsHere(): boolean;

  /**
   * Waits until the lock is taken and resolves with this object, so that
   * `await using held = await lock.acquire()` releases it at the end of the block. The wait never
   * blocks the event loop, also while another process holds the database's write lock.
   * @throws Timeout after `options.timeout` seconds; AbortError when `options.signal` aborts.
   */
  async acquire(options?: AcquireOptions): Promise<this> {
    await waitFor(
      async () => ((await this.tryAcquireAsync()) ? true : undefined),
      options,
      `acquire ${this.#what}`,
      this.channel,
    );
    return this;
  }

  /** Runs `fn` while holding the lock and releases it afterwards, whether `fn` succeeds or throws. */
  async run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function')
      throw new TypeError(`${this.#what}: run(fn) needs a function, got ${typeof fn}`);
    return underLock(this, fn, options);
  }

  /** Releases the lock if this object holds it; does nothing otherwise (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.holdsHere()) await this.releaseAsync();
  }

  /** Lets the oldest waiter of this process try again now (after a release). */
  protected wakeWaiter(): void {
    wakeOne(this.channel);
  }

  /** `Lock "name"`, for messages. */
  protected get what(): string {
    return this.#what;
  }
}
