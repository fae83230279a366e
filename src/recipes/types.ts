/**
 * Types shared by the recipes: what a recipe needs of a cache (any Cache-like object: Cache,
 * FanoutCache, `index.cache`...) and the options common to the locks. No behaviour lives here.
 */
import type { Seconds } from '../cache/checks.js';
import type { Entry, SetOptions, Tag } from '../cache/types.js';
import type { WaitOptions } from '../cache/waiting.js';

/**
 * The part of a cache the recipes use. `Cache` and `FanoutCache` both fit. The recipes assume their
 * keys are never evicted: give the cache `evictionPolicy: 'none'` or keep it far below `sizeLimit`.
 */
export interface RecipeCache {
  readonly directory: string;
  get(key: unknown, options?: { default?: unknown; retry?: boolean }): unknown;
  getEntry(key: unknown, options?: { retry?: boolean }): Entry | undefined;
  set(key: unknown, value: unknown, options?: SetOptions): boolean;
  add(key: unknown, value: unknown, options?: SetOptions): boolean;
  delete(key: unknown, options?: { retry?: boolean }): boolean;
  pop(key: unknown, options?: { default?: unknown; retry?: boolean }): unknown;
  has(key: unknown): boolean;
  transact<T>(fn: () => T, options?: { retry?: boolean }): T;
  /** The same methods returning promises, never blocking the event loop on a busy write lock. */
  readonly async: RecipeAsyncCache;
}

/** The part of `cache.async` the recipes use while they wait (Cache's and FanoutCache's fit). */
export interface RecipeAsyncCache {
  get(key: unknown, options?: { default?: unknown; retry?: boolean }): Promise<unknown>;
  getEntry(key: unknown, options?: { retry?: boolean }): Promise<Entry | undefined>;
  set(key: unknown, value: unknown, options?: SetOptions): Promise<boolean>;
  add(key: unknown, value: unknown, options?: SetOptions): Promise<boolean>;
  pop(key: unknown, options?: { default?: unknown; retry?: boolean }): Promise<unknown>;
  transact<T>(fn: () => T, options?: { retry?: boolean }): Promise<T>;
}

/** Options of `Lock` and `RLock` (and the base of `BoundedSemaphoreOptions`). */
export interface LockOptions {
  /**
   * Seconds after which a hold expires by itself, so that a lock held by a process that died (or
   * hangs) is freed. Measured from the acquisition; a holder that runs longer loses the lock, and
   * its `release()` then throws `NotOwnedError`. `undefined` or `null`: never (a dead holder keeps
   * the lock until someone deletes its key). @default undefined
   */
  readonly expire?: Seconds | null;
  /** Tag stored with the lock's entry (for `cache.evict(tag)`). @default null */
  readonly tag?: Tag;
}

/** Options of `acquire()`: how long to wait, and a signal that cancels the wait. */
export type AcquireOptions = WaitOptions;
