/**
 * memoizeStampede: memoize that protects a slow function from stampedes, in two ways.
 * 1. Hot keys (diskcache's `memoize_stampede`): results are stored as `[value, deltaSeconds]` and
 *    recomputed early, in the background, with probability growing as expiry nears (XFetch,
 *    Vattani et al., VLDB 2015), while callers keep getting the stored value.
 * 2. Cold keys (beyond diskcache): on a miss one caller computes, holding a per-key compute token
 *    (a `cache.add` entry with an expiry), and every other caller, in this process or another,
 *    waits for that result by polling the cache, up to `waitTimeout`, after which it computes itself.
 * The same token serializes background recomputations. It must not cache exceptions.
 */

import { checkOptionalSeconds, type Seconds } from '../cache/checks.js';
import { encodeStructuredKey } from '../cache/disk.js';
import { makeKeyFunction } from '../cache/memoize.js';
import type { MemoizeOptions } from '../cache/types.js';
import { Backoff, sleep } from '../cache/waiting.js';
import { checkCache, ownerToken } from './options.js';
import type { RecipeCache } from './types.js';

/** Options of `memoizeStampede()`. */
export interface MemoizeStampedeOptions extends Omit<MemoizeOptions, 'expire'> {
  /** Seconds a result is kept (required: early recomputation is measured against it). */
  readonly expire: Seconds;
  /**
   * How eagerly to recompute before expiry: above 1 earlier, below 1 later (diskcache's docs: 0.5 is
   * good, 0.3 too low). @default 1
   */
  readonly beta?: number;
  /**
   * Seconds a caller waits for another caller's computation of a missing key before computing it
   * itself; also how long a computation's token lives, so that a process that died while computing
   * blocks the others at most this long. @default 30
   */
  readonly waitTimeout?: Seconds;
}

// biome-ignore lint/suspicious/noExplicitAny: a memoized function keeps the caller's exact parameters.
type AnyFunction = (...args: any[]) => unknown;

/** A stampede-protected function: same arguments, always a Promise of the result, plus `cacheKey`. */
export type Stampeded<F extends AnyFunction> = ((
  ...args: Parameters<F>
) => Promise<Awaited<ReturnType<F>>>) & {
  /** The cache key a call with these arguments reads and writes (as `cache.memoize`'s). */
  cacheKey(...args: Parameters<F>): unknown[];
};

interface Stored {
  readonly value: unknown;
  /** Seconds the computation took. */
  readonly delta: number;
  /** Absolute expiry (epoch seconds) or null. */
  readonly expireTime: number | null;
}

const DEFAULT_WAIT_TIMEOUT = 30;

/** The key of the compute token of `key`: an object, so it can never equal a memoize key (an array). */
function tokenKeyOf(key: unknown[]): unknown {
  return { 'node-diskcache': 'memoizeStampede', compute: key };
}

function checkOptions(options: MemoizeStampedeOptions): {
  expire: number;
  beta: number;
  waitTimeout: number;
} {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`memoizeStampede(): options {expire} are required, got ${String(options)}`);
  const expire = checkOptionalSeconds('expire', options.expire, {
    where: 'memoizeStampede()',
    allowInfinity: true,
  });
  if (expire === null || !Number.isFinite(expire))
    throw new RangeError(
      `memoizeStampede(): expire must be a finite number of seconds > 0, got ${String(options.expire)}`,
    );
  const beta = options.beta ?? 1;
  if (typeof beta !== 'number' || Number.isNaN(beta) || beta <= 0)
    throw new RangeError(`memoizeStampede(): beta must be a number > 0, got ${String(beta)}`);
  const waitTimeout =
    checkOptionalSeconds('waitTimeout', options.waitTimeout, {
      where: 'memoizeStampede()',
      allowInfinity: true,
    }) ?? DEFAULT_WAIT_TIMEOUT;
  return { expire, beta, waitTimeout };
}

/**
 * A decorator like `cache.memoize`, with stampede protection across processes (see the file
 * header). The wrapper always returns a Promise, for sync and async functions alike; concurrent
 * callers in one process share one computation. Exceptions are not cached: the computing caller's
 * sharers get the error and the token is released, so a waiter elsewhere computes next.
 *
 * Not guaranteed: exactly one computation. A computation that outlives `waitTimeout` (or whose
 * process dies) lets others compute too. Errors of background recomputations are dropped: the
 * stored value is served until it expires, and the next cold call then reports them.
 *
 * @example
 * const getUser = memoizeStampede(cache, { expire: 60 })(async function getUser(id: string) {
 *   return (await fetch(`https://api.example.com/users/${id}`)).json();
 * });
 */
export function memoizeStampede(
  cache: RecipeCache,
  options: MemoizeStampedeOptions,
): <F extends AnyFunction>(fn: F) => Stampeded<F> {
  const target = checkCache(cache, 'memoizeStampede()');
  const { expire, beta, waitTimeout } = checkOptions(options);
  const setOptions = { expire, tag: options.tag ?? null, retry: true };
  const tokenOptions = { expire: Number.isFinite(waitTimeout) ? waitTimeout : null, retry: true };

  // Every cache call goes through `.async`: a busy database (another process writing) is waited
  // for with async pauses, never blocking the event loop.
  const read = async (key: unknown[]): Promise<Stored | undefined> => {
    const entry = await target.async.getEntry(key, { retry: true });
    const pair = entry?.value;
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[1] !== 'number') return undefined; // missing, or not ours
    return { value: pair[0], delta: pair[1], expireTime: entry!.expireTime };
  };
  const takeToken = async (tokenKey: unknown): Promise<string | undefined> => {
    const token = ownerToken();
    return (await target.async.add(tokenKey, token, tokenOptions)) ? token : undefined;
  };
  const dropToken = async (tokenKey: unknown, token: string): Promise<void> => {
    await target.async.transact(
      () =>
        target.get(tokenKey, { retry: true }) === token && target.delete(tokenKey, { retry: true }),
      { retry: true },
    );
  };

  return <F extends AnyFunction>(fn: F): Stampeded<F> => {
    if (typeof fn !== 'function')
      throw new TypeError(`memoizeStampede(...)(fn): fn must be a function, got ${typeof fn}`);
    const keyOf = makeKeyFunction(fn, options);
    const inflight = new Map<string, Promise<unknown>>();

    const compute = async (thisArg: unknown, args: unknown[], key: unknown[]): Promise<unknown> => {
      const started = performance.now();
      const value = await fn.apply(thisArg, args);
      await target.async.set(key, [value, (performance.now() - started) / 1000], setOptions);
      return value;
    };

    /** A miss: compute under the token, or wait for whoever holds it (up to waitTimeout). */
    const fetchCold = async (
      thisArg: unknown,
      args: unknown[],
      key: unknown[],
    ): Promise<unknown> => {
      const tokenKey = tokenKeyOf(key);
      const deadline = performance.now() + waitTimeout * 1000;
      const backoff = new Backoff();
      for (;;) {
        const token = await takeToken(tokenKey);
        if (token !== undefined) {
          try {
            const stored = await read(key); // stored by the previous holder between our miss and our token?
            return stored ? stored.value : await compute(thisArg, args, key);
          } finally {
            await dropToken(tokenKey, token);
          }
        }
        const left = deadline - performance.now();
        if (left <= 0) return compute(thisArg, args, key);
        await sleep(Math.min(left, backoff.next()));
        const stored = await read(key);
        if (stored) return stored.value;
      }
    };

    /** A hit that XFetch picked for early recomputation: at most one at a time, across processes. */
    const refresh = async (thisArg: unknown, args: unknown[], key: unknown[]): Promise<void> => {
      const tokenKey = tokenKeyOf(key);
      const token = await takeToken(tokenKey);
      if (token === undefined) return;
      try {
        await compute(thisArg, args, key);
      } finally {
        await dropToken(tokenKey, token);
      }
    };

    const wrapper = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const key = keyOf(args);
      const stored = await read(key);
      if (stored) {
        const ttl =
          stored.expireTime === null
            ? Number.POSITIVE_INFINITY
            : stored.expireTime - Date.now() / 1000;
        if (-stored.delta * beta * Math.log(Math.random()) >= ttl)
          refresh(this, args, key).catch(() => {
            // Nobody awaits this: the stored value stays until it expires (see "Not guaranteed"
            // above), and a token left behind expires by itself after waitTimeout.
          });
        return stored.value;
      }
      const id = encodeStructuredKey(key).toString('latin1');
      let running = inflight.get(id);
      if (!running) {
        running = fetchCold(this, args, key).finally(() => inflight.delete(id));
        inflight.set(id, running);
      }
      return running;
    } as unknown as Stampeded<F>;
    Object.defineProperty(wrapper, 'name', { value: fn.name });
    wrapper.cacheKey = (...args: unknown[]) => keyOf(args);
    return wrapper;
  };
}
