/**
 * throttle: a token bucket in the cache, shared by every process (and every wrapped function)
 * that uses the same name. The state `[lastTime, tokens]` lives under the name as its key.
 * Unlike diskcache's `throttle`, wrapping a function does not reset an existing bucket: a process
 * that starts late must not hand out a fresh burst on top of a budget that others are spending.
 */

import { checkOptionalSeconds, type Seconds } from '../cache/checks.js';
import type { Tag } from '../cache/types.js';
import { sleep } from '../cache/waiting.js';
import { checkCache, readPair } from './options.js';
import type { RecipeCache } from './types.js';

/** Options of `throttle()`. */
export interface ThrottleOptions {
  /** How many calls per `seconds` (also the burst: a full bucket holds `count` calls). */
  readonly count: number;
  /** The period, in seconds, over which `count` calls are allowed. */
  readonly seconds: Seconds;
  /** The bucket's key; defaults to the function's name (required when the function has none). */
  readonly name?: string;
  /**
   * Seconds after its last use after which the bucket's entry expires (the next call then starts
   * with a full bucket). @default undefined (never)
   */
  readonly expire?: Seconds | null;
  readonly tag?: Tag;
}

/** A throttled function: same arguments, always returns a Promise of the result. */
export type Throttled<A extends unknown[], R> = (...args: A) => Promise<Awaited<R>>;

type Bucket = readonly [lastTime: number, tokens: number];

const readBucket = (value: unknown) => readPair<Bucket>(value, 'number', 'number');

/**
 * Limits calls of a function to `count` per `seconds` across every process that throttles with
 * the same name on the same cache. A call waits (asynchronously) for a token, then runs `fn` and
 * resolves with its result. The bucket starts full: up to `count` calls may run at once at first.
 *
 * Not guaranteed: order among waiting calls (each waits for the time its own token needs, then
 * competes with the others); calls are counted when they start, not when they finish.
 *
 * @example
 * const fetchPage = throttle(cache, { count: 10, seconds: 1, name: 'api.example.com' })(
 *   async (url: string) => (await fetch(url)).text(),
 * );
 */
export function throttle(
  cache: RecipeCache,
  options: ThrottleOptions,
): <A extends unknown[], R>(fn: (...args: A) => R) => Throttled<A, R> {
  const target = checkCache(cache, 'throttle()');
  if (options === null || typeof options !== 'object')
    throw new TypeError(
      `throttle(): options {count, seconds} are required, got ${String(options)}`,
    );
  const { count, seconds, name } = options;
  if (typeof count !== 'number' || !Number.isFinite(count) || count < 1) {
    throw new RangeError(`throttle(): count must be a number >= 1, got ${String(count)}`);
  }
  const period = checkOptionalSeconds('seconds', seconds, {
    where: 'throttle()',
    allowInfinity: true,
  });
  if (period === null || !Number.isFinite(period))
    throw new RangeError(
      `throttle(): seconds must be a finite number of seconds > 0, got ${String(seconds)}`,
    );
  if (name !== undefined && typeof name !== 'string')
    throw new TypeError(`throttle(): name must be a string, got ${String(name)}`);
  const expire = checkOptionalSeconds('expire', options.expire, {
    where: 'throttle()',
    allowInfinity: true,
  });
  const tag = options.tag ?? null;
  const rate = count / period;

  /**
   * Takes a token if there is one; else says how many seconds until there will be. Through
   * `.async`, so a busy database never blocks the event loop.
   */
  const take = (key: string): Promise<number> =>
    target.async.transact(
      () => {
        const now = Date.now() / 1000;
        const [last, tokens] = readBucket(target.get(key, { retry: true })) ?? [now, count];
        const tally = Math.min(count, tokens + Math.max(0, now - last) * rate);
        if (tally >= 1) {
          target.set(key, [now, tally - 1], { expire, tag, retry: true });
          return 0;
        }
        return (1 - tally) / rate;
      },
      { retry: true },
    );

  return <A extends unknown[], R>(fn: (...args: A) => R): Throttled<A, R> => {
    if (typeof fn !== 'function')
      throw new TypeError(`throttle(...)(fn): fn must be a function, got ${typeof fn}`);
    const key = name ?? fn.name;
    if (!key)
      throw new TypeError(
        'throttle(): the function has no name; pass { name } so that every process shares one bucket',
      );
    const throttled = async function (this: unknown, ...args: A): Promise<Awaited<R>> {
      for (let delay = await take(key); delay > 0; delay = await take(key)) {
        // A little jitter so that waiters of one process do not all wake at the same instant.
        await sleep(delay * 1000 * (1 + Math.random() * 0.1));
      }
      return (await fn.apply(this, args)) as Awaited<R>;
    };
    Object.defineProperty(throttled, 'name', { value: fn.name });
    return throttled;
  };
}
