/**
 * RedisLock and RedisThrottle: the Lock and throttle recipes on Redis, so that processes on many
 * machines share one mutex or one rate budget. Each change is one Lua script
 * (collection-scripts.ts) timed by the server's clock; no key has a TTL (an expiring hold stores
 * its expiry time, and an expired hold counts as free), so no `maxmemory` policy can evict a
 * held lock. Waiting is async and cancellable: pub/sub wake-ups at a release plus bounded polling
 * for the lock, the exact time to the next token for the throttle.
 */
import { checkOptionalSeconds, type Seconds } from '../cache/checks.js';
import { NotOwnedError, Timeout } from '../cache/errors.js';
import { abortError, Backoff, checkWaitOptions, sleep } from '../cache/waiting.js';
import { type Acquirable, underLock } from '../recipes/cache-lock.js';
import { describeKey, ownerToken } from '../recipes/options.js';
import type { Throttled } from '../recipes/throttle.js';
import type { AcquireOptions } from '../recipes/types.js';
import { RedisObject, type RedisTarget } from './redis-handle.js';

/** Longest pause of a waiting acquire between two tries (a release's publish wakes it sooner). */
const POLL_MAX_MS = 500;

/** Options of `new RedisLock()`. */
export interface RedisLockOptions {
  /**
   * Seconds after which a hold ends by itself (measured by the Redis server's clock from the
   * acquisition), so that a lock held by a process or machine that died is freed. A holder that
   * runs longer loses the lock, and its `release()` then throws `NotOwnedError`.
   * `undefined` or `null`: never. @default undefined
   */
  readonly expire?: Seconds | null;
}

/**
 * A mutex shared by every process on every machine that uses the same Redis and name: the
 * Redis form of `Lock`, with the same guarantees. The hold is the hash `dl:{name}:owner` with the
 * holder's random token; only that holder's `release()` frees it (compare-and-delete in one
 * script), never a later holder's.
 *
 * One RedisLock object is one owner: tasks of a process sharing it queue behind each other.
 * Not guaranteed: fairness (waiters are woken together at a release and race; others poll).
 * Durability is Redis's: after a failover that lost the last writes, a hold may be lost (two
 * holders) — give critical sections an `expire` and make them idempotent (docs/scale-out.md).
 *
 * @example
 * const lock = new RedisLock('redis://127.0.0.1:6379/0#nightly-report', { expire: 60 });
 * await lock.run(async () => { await buildReport(); });
 * await lock.close();
 */
export class RedisLock extends RedisObject implements Acquirable, AsyncDisposable {
  /** Seconds a hold lasts at most, or null for ever. */
  readonly expire: number | null;
  #token: string | undefined;

  /**
   * The lock named by `target`: a `redis://…#name` locator (this object makes the connection and
   * closes it) or `{client, name}` on an ioredis client you own.
   * @throws TypeError / RangeError for a bad locator, name or expire.
   */
  constructor(target: string | RedisTarget, options: RedisLockOptions = {}) {
    super('RedisLock', 'dl', target);
    this.expire = checkOptionalSeconds('expire', options?.expire, {
      where: 'new RedisLock()',
      allowInfinity: true,
    });
    if (this.expire === Number.POSITIVE_INFINITY) this.expire = null;
  }

  get #what(): string {
    return `RedisLock ${describeKey(this.handle.name)}`;
  }

  /** 0 taken; -1 held for ever; else ms until the current hold expires. */
  async #try(token: string): Promise<number> {
    const expireMs = this.expire === null ? 0 : Math.max(1, Math.round(this.expire * 1000));
    return (await this.script('lockOp', ['acquire', token, expireMs])) as number;
  }

  /** Takes the lock if it is free now (one script call); never waits. */
  async tryAcquire(): Promise<boolean> {
    const token = ownerToken();
    if ((await this.#try(token)) !== 0) return false;
    this.#token = token;
    return true;
  }

  /**
   * Waits until the lock is taken and resolves with this object, so that
   * `await using held = await lock.acquire()` releases it at the end of the block (disposing
   * releases; `close()` ends the connection and does not release a hold).
   * @throws Timeout after `options.timeout` seconds; AbortError when `options.signal` aborts.
   */
  async acquire(options?: AcquireOptions): Promise<this> {
    const what = `acquire ${this.#what}`;
    const { deadline, signal } = checkWaitOptions(options, what);
    if (signal?.aborted) throw abortError(signal, what);
    if (await this.tryAcquire()) return this;
    if (deadline <= performance.now())
      throw new Timeout(`${what}: timed out after ${options?.timeout} s`);
    const backoff = new Backoff({ firstMs: 5, maxMs: POLL_MAX_MS });
    for (;;) {
      // Listen before trying, so that a release between the try and the sleep still wakes us.
      const woken = await this.handle.wakeUp('wake');
      const token = ownerToken();
      let left: number;
      let until: number;
      try {
        until = await this.#try(token);
        left = deadline - performance.now();
      } catch (error) {
        woken.cancel();
        throw error;
      }
      if (until === 0) {
        woken.cancel();
        this.#token = token;
        return this;
      }
      if (left <= 0) {
        woken.cancel();
        throw new Timeout(`${what}: timed out after ${options?.timeout} s`);
      }
      let pause = Math.min(left, backoff.next());
      if (until > 0) pause = Math.min(pause, until + 1);
      await woken.wait(pause, signal);
      if (this.handle.closed) throw new Error(`${what}: the lock object was closed`);
    }
  }

  /**
   * Frees the lock if this object holds it.
   * @throws NotOwnedError when this object does not hold it: it never took it, released it
   * already, or its hold expired (the lock may be someone else's now, and stays theirs).
   */
  async release(): Promise<void> {
    const token = this.#token;
    this.#token = undefined;
    const released =
      token !== undefined && (await this.script('lockOp', ['release', token, 0])) === 1;
    if (!released)
      throw new NotOwnedError(
        token === undefined
          ? `${this.#what} is not held by this RedisLock object`
          : `${this.#what} expired before release (its expire is ${this.expire} s)`,
      );
  }

  /** Whether anyone, on any machine, holds the lock now. */
  async locked(): Promise<boolean> {
    return (await this.script('lockOp', ['locked', '', 0])) === 1;
  }

  /** Runs `fn` while holding the lock and releases it afterwards, whether `fn` succeeds or throws. */
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function')
      return Promise.reject(
        new TypeError(`${this.#what}: run(fn) needs a function, got ${typeof fn}`),
      );
    return underLock(this, fn, options);
  }

  /** Releases the lock if this object holds it (for `await using`). */
  override async [Symbol.asyncDispose](): Promise<void> {
    if (this.#token !== undefined) await this.release();
  }
}

/** Options of `new RedisThrottle()` and `redisThrottle()`: the SQLite throttle's. */
export interface RedisThrottleOptions {
  /** How many calls per `seconds` (also the burst: a full bucket holds `count` calls). */
  readonly count: number;
  /** The period, in seconds, over which `count` calls are allowed. */
  readonly seconds: Seconds;
}

function checkThrottleOptions(options: RedisThrottleOptions, where: string): [number, number] {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`${where}: options {count, seconds} are required, got ${String(options)}`);
  const { count, seconds } = options;
  if (typeof count !== 'number' || !Number.isFinite(count) || count < 1)
    throw new RangeError(`${where}: count must be a number >= 1, got ${String(count)}`);
  const period = checkOptionalSeconds('seconds', seconds, { where, allowInfinity: true });
  if (period === null || !Number.isFinite(period))
    throw new RangeError(
      `${where}: seconds must be a finite number of seconds > 0, got ${String(seconds)}`,
    );
  return [count, period];
}

/**
 * One rate budget of `count` calls per `seconds`, shared by every process on every machine that
 * uses the same Redis and name: the Redis form of `throttle`. A token bucket in the hash
 * `dt:{name}:bucket`, taken by one script on the server's clock (so machines whose clocks
 * disagree share one rate). The bucket starts full; it stays in Redis after use (two fields).
 *
 * Not guaranteed: order among waiting calls; calls are counted when they start.
 *
 * @example
 * const api = new RedisThrottle('redis://127.0.0.1:6379/0#api.example.com', { count: 10, seconds: 1 });
 * const fetchPage = api.wrap(async (url: string) => (await fetch(url)).text());
 * // … every process on every machine together: at most 10 calls a second
 * await api.close();
 */
export class RedisThrottle extends RedisObject {
  readonly count: number;
  readonly seconds: number;

  /** @throws TypeError / RangeError for a bad locator, name, count or seconds. */
  constructor(target: string | RedisTarget, options: RedisThrottleOptions) {
    super('RedisThrottle', 'dt', target);
    [this.count, this.seconds] = checkThrottleOptions(options, 'new RedisThrottle()');
  }

  /** Takes a token if there is one (resolves 0), else resolves with the seconds until there is. */
  async tryTake(): Promise<number> {
    const ms = (await this.script('throttleTake', [
      this.count,
      Math.max(1, Math.round(this.seconds * 1000)),
    ])) as number;
    return ms / 1000;
  }

  /**
   * Waits until a token is taken.
   * @throws AbortError when `signal` aborts the wait.
   */
  async take(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = checkWaitOptions({ signal: options?.signal }, 'RedisThrottle.take()');
    for (let delay = await this.tryTake(); delay > 0; delay = await this.tryTake()) {
      // A little jitter so that waiters of one process do not all wake at the same instant.
      await sleep(delay * 1000 * (1 + Math.random() * 0.1), { signal, what: 'throttle wait' });
    }
  }

  /** `fn` limited to this budget: each call waits for a token, then runs. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R): Throttled<A, R> {
    if (typeof fn !== 'function')
      throw new TypeError(`RedisThrottle.wrap(fn): fn must be a function, got ${typeof fn}`);
    const bucket = this;
    const throttled = async function (this: unknown, ...args: A): Promise<Awaited<R>> {
      await bucket.take();
      return (await fn.apply(this, args)) as Awaited<R>;
    };
    Object.defineProperty(throttled, 'name', { value: fn.name });
    return throttled;
  }
}

/**
 * `throttle(cache, {count, seconds, name})(fn)` with the bucket in Redis: the same shape, on a
 * client you own (`{client, name}`; a locator would leave a connection nobody closes: use
 * `new RedisThrottle(locator, options)` and its `wrap` and `close` for that).
 * @example
 * const fetchPage = redisThrottle({ client, name: 'api.example.com' }, { count: 10, seconds: 1 })(
 *   async (url: string) => (await fetch(url)).text(),
 * );
 */
export function redisThrottle(
  target: RedisTarget,
  options: RedisThrottleOptions,
): <A extends unknown[], R>(fn: (...args: A) => R) => Throttled<A, R> {
  if (typeof target === 'string')
    throw new TypeError(
      'redisThrottle(): pass {client, name}; for a redis:// locator use new RedisThrottle(locator, options), which can be closed',
    );
  const bucket = new RedisThrottle(target, options);
  return (fn) => bucket.wrap(fn);
}
