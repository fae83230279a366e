/**
 * barrier: a decorator that runs every call of a function under one cross-process lock, so calls
 * never overlap anywhere (or, with a BoundedSemaphore, at most `value` of them do). As diskcache's
 * `barrier`, it creates the lock once, with `lockFactory(cache, key, {expire, tag})`.
 */
import type { Seconds } from '../cache/checks.js';
import type { Tag } from '../cache/types.js';
import { type Acquirable, underLock } from './cache-lock.js';
import { checkCache } from './options.js';
import type { LockOptions, RecipeCache } from './types.js';

/** Makes the lock a barrier runs its calls under: `Lock`, `RLock` or `BoundedSemaphore` fit. */
export type LockFactory = (cache: RecipeCache, key: string, options: LockOptions) => Acquirable;

/** Options of `barrier()`. */
export interface BarrierOptions {
  /** The lock's key; defaults to the function's name (required when the function has none). */
  readonly name?: string;
  /** Seconds after which a hold expires (see `LockOptions.expire`). @default undefined (never) */
  readonly expire?: Seconds | null;
  readonly tag?: Tag;
}

/** A function whose calls run under a lock: same arguments, always returns a Promise. */
export type Barriered<A extends unknown[], R> = (...args: A) => Promise<Awaited<R>>;

/**
 * Wraps `fn` so that each call first takes the lock, then runs, then releases the lock (also when
 * `fn` throws). Calls in every process that use the same name on the same cache are serialized.
 *
 * @example
 * const migrate = barrier(cache, (c, key, o) => new Lock(c, key, o), { expire: 600 })(async function migrate() {
 *   await runMigrations();
 * });
 */
export function barrier(
  cache: RecipeCache,
  lockFactory: LockFactory,
  options: BarrierOptions = {},
): <A extends unknown[], R>(fn: (...args: A) => R) => Barriered<A, R> {
  const target = checkCache(cache, 'barrier()');
  if (typeof lockFactory !== 'function') {
    throw new TypeError(
      `barrier(): lockFactory must be a function such as (cache, key, options) => new Lock(cache, key, options), got ${typeof lockFactory}`,
    );
  }
  if (options === null || typeof options !== 'object')
    throw new TypeError(`barrier(): options must be an object, got ${String(options)}`);
  if (options.name !== undefined && typeof options.name !== 'string')
    throw new TypeError(`barrier(): name must be a string, got ${String(options.name)}`);
  return <A extends unknown[], R>(fn: (...args: A) => R): Barriered<A, R> => {
    if (typeof fn !== 'function')
      throw new TypeError(`barrier(...)(fn): fn must be a function, got ${typeof fn}`);
    const key = options.name ?? fn.name;
    if (!key)
      throw new TypeError(
        'barrier(): the function has no name; pass { name } so that every process uses one lock',
      );
    const lock = lockFactory(target, key, {
      expire: options.expire ?? null,
      tag: options.tag ?? null,
    });
    if (
      lock === null ||
      typeof lock !== 'object' ||
      typeof lock.acquire !== 'function' ||
      typeof lock.release !== 'function'
    ) {
      throw new TypeError(
        'barrier(): lockFactory must return an object with acquire() and release()',
      );
    }
    const barriered = function (this: unknown, ...args: A): Promise<Awaited<R>> {
      return underLock(
        lock,
        async (): Promise<Awaited<R>> => (await fn.apply(this, args)) as Awaited<R>,
      );
    };
    Object.defineProperty(barriered, 'name', { value: fn.name });
    return barriered;
  };
}
