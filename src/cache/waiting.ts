/**
 * waiting: every wait of the library, in one place — exponential backoff with jitter, a
 * synchronous pause (for the engine's lock retries, which run inside synchronous calls), async
 * sleeps that a `signal` cancels and that this process can cut short by channel (`wakeOne` /
 * `wakeAll`), and `waitFor`, the retry loop of the recipes. Waiting never spins the CPU.
 * This file knows nothing of caches, queues or locks: the caller decides what to try.
 */
import { checkOptionalSeconds, checkSignal } from './checks.js';
import { AbortError, Timeout } from './errors.js';

/**
 * Exponential backoff: pauses that start at `firstMs` and double up to `maxMs`, each with ±50 %
 * jitter (so that waiters spread out instead of retrying in step).
 */
export class Backoff {
  readonly #first: number;
  readonly #max: number;
  #base: number;

  /** @default firstMs 1, maxMs 50 (milliseconds) */
  constructor(options: { readonly firstMs?: number; readonly maxMs?: number } = {}) {
    this.#first = options.firstMs ?? 1;
    this.#max = options.maxMs ?? 50;
    this.#base = this.#first;
  }

  /** The next pause in milliseconds. */
  next(): number {
    const base = this.#base;
    this.#base = Math.min(this.#max, base * 2);
    return base * (0.5 + Math.random());
  }

  /** Starts again from `firstMs` (after a success). */
  reset(): void {
    this.#base = this.#first;
  }
}

/**
 * The delay before retry number `attempt` (1 for the first retry): `base * 2 ** (attempt - 1)`,
 * at most `max` (or `base`, if that is larger). The retry delays of the WorkQueue and the runner.
 */
export function retryDelay(base: number, attempt: number, max: number): number {
  return Math.min(Math.max(max, base), base * 2 ** Math.max(0, attempt - 1));
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks this thread for `ms` milliseconds (fractions allowed) without spinning the CPU. Only for
 * waits inside synchronous calls (a lock retry of the engine); everything else sleeps async.
 */
export function pauseSync(ms: number): void {
  Atomics.wait(pauseCell, 0, 0, ms);
}

/** Sleepers by channel, oldest first (a Set keeps insertion order). */
const sleepers = new Map<string, Set<() => void>>();

/** Wakes the oldest sleeper on `channel` in this process, if any (a hand-over: one at a time). */
export function wakeOne(channel: string): void {
  const set = sleepers.get(channel);
  if (!set) return;
  for (const waker of set) {
    waker();
    return;
  }
}

/** Wakes every sleeper on `channel` in this process (new work for all). */
export function wakeAll(channel: string): void {
  const set = sleepers.get(channel);
  if (!set) return;
  for (const waker of [...set]) waker();
}

/** The `AbortError` for an aborted signal, with the signal's reason as its cause. */
export function abortError(signal: AbortSignal, what: string): AbortError {
  return new AbortError(`${what}: aborted`, { cause: signal.reason });
}

/** Options of `sleep`. */
export interface SleepOptions {
  /** Cancels the sleep: it rejects with `AbortError` (or resolves, with `resolveOnAbort`). */
  readonly signal?: AbortSignal | undefined;
  /** A name under which `wakeOne`/`wakeAll` can end the sleep early. */
  readonly channel?: string | undefined;
  /** Names the wait in the AbortError's message. @default 'wait' */
  readonly what?: string;
  /** Resolve instead of rejecting when `signal` aborts. @default false */
  readonly resolveOnAbort?: boolean;
}

/**
 * Resolves after `ms` milliseconds, or earlier when woken on `channel`; rejects with `AbortError`
 * when `signal` aborts (unless `resolveOnAbort`). The timer keeps the process alive.
 */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal, channel, what = 'wait', resolveOnAbort = false } = options;
  if (signal?.aborted)
    return resolveOnAbort ? Promise.resolve() : Promise.reject(abortError(signal, what));
  return new Promise<void>((resolve, reject) => {
    let set: Set<() => void> | undefined;
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (set) {
        set.delete(done);
        if (set.size === 0 && sleepers.get(channel!) === set) sleepers.delete(channel!);
      }
    };
    const done = () => {
      finish();
      resolve();
    };
    const onAbort = () => {
      finish();
      if (resolveOnAbort) resolve();
      else reject(abortError(signal!, what));
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (channel !== undefined) {
      set = sleepers.get(channel);
      if (set === undefined) {
        set = new Set();
        sleepers.set(channel, set);
      }
      set.add(done);
    }
  });
}

/** Options of a wait that can time out and be cancelled (`acquire`, `waitFor`). */
export interface WaitOptions {
  /**
   * Seconds to wait at most before rejecting with `Timeout`; `0` tries once.
   * `undefined` or `null`: wait as long as it takes. @default undefined
   */
  readonly timeout?: number | null;
  /** Cancels the wait: it then rejects with `AbortError` (its `cause` is the signal's reason). */
  readonly signal?: AbortSignal;
}

/** Validates `{timeout, signal}`; returns the deadline in `performance.now()` milliseconds. */
export function checkWaitOptions(
  options: WaitOptions | undefined,
  where: string,
): { deadline: number; signal?: AbortSignal } {
  if (options === undefined || options === null) return { deadline: Number.POSITIVE_INFINITY };
  if (typeof options !== 'object')
    throw new TypeError(`${where}: options must be an object, got ${String(options)}`);
  const timeout = checkOptionalSeconds('timeout', options.timeout, {
    where,
    allowZero: true,
    allowInfinity: true,
  });
  const signal = checkSignal('signal', options.signal, { where });
  const deadline = timeout === null ? Number.POSITIVE_INFINITY : performance.now() + timeout * 1000;
  return signal ? { deadline, signal } : { deadline };
}

/**
 * Calls `attempt` (sync or async) until it returns something other than `undefined`, pausing with backoff (or
 * until woken on `channel`) between tries. Rejects with `Timeout` after `options.timeout` seconds
 * (after at least one try) and with `AbortError` when `options.signal` aborts (before any try if
 * it already has). `what` names the wait in error messages, e.g. `acquire lock "jobs"`.
 */
export async function waitFor<T>(
  attempt: () => T | undefined | Promise<T | undefined>,
  options: WaitOptions | undefined,
  what: string,
  channel?: string,
): Promise<T> {
  const { deadline, signal } = checkWaitOptions(options, what);
  if (signal?.aborted) throw abortError(signal, what);
  const backoff = new Backoff();
  for (;;) {
    const result = await attempt();
    if (result !== undefined) return result;
    const left = deadline - performance.now();
    if (left <= 0) throw new Timeout(`${what}: timed out after ${options?.timeout} s`);
    await sleep(Math.min(left, backoff.next()), { signal, channel, what });
  }
}
