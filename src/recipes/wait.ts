/**
 * How the recipes wait: exponential backoff with jitter between tries, timeouts (`Timeout`),
 * cancellation (`AbortError`), and in-process wake-ups so that a release in this process hands
 * over at once instead of after the waiter's next backoff. Waiting never blocks the event loop and
 * never spins. This file knows nothing of locks or caches: the caller's `attempt` decides.
 */
import { AbortError, Timeout } from '../cache/errors.js';
import type { AcquireOptions } from './types.js';

/** First pause between two tries, in milliseconds. */
const FIRST_DELAY_MS = 1;
/** Longest pause between two tries, in milliseconds (bounds the hand-over latency across processes). */
const MAX_DELAY_MS = 50;

/** Pauses that start at 1 ms and double up to 50 ms, each with ±50 % jitter (so waiters spread out). */
export class Backoff {
  #base = FIRST_DELAY_MS;

  /** The next pause in milliseconds. */
  next(): number {
    const base = this.#base;
    this.#base = Math.min(MAX_DELAY_MS, base * 2);
    return base * (0.5 + Math.random());
  }
}

/** Sleepers by channel, oldest first (a Set keeps insertion order). */
const sleepers = new Map<string, Set<() => void>>();

/** Wakes the oldest waiter sleeping on `channel` in this process (if any), so it tries again now. */
export function wake(channel: string): void {
  const set = sleepers.get(channel);
  if (!set) return;
  for (const waker of set) {
    set.delete(waker);
    if (set.size === 0) sleepers.delete(channel);
    waker();
    return;
  }
}

/** The `AbortError` for an aborted signal, with the signal's reason as its cause. */
export function abortError(signal: AbortSignal, what: string): AbortError {
  return new AbortError(`${what}: aborted`, { cause: signal.reason });
}

/**
 * Resolves after `ms` milliseconds, or earlier when `wake(channel)` picks this sleeper; rejects
 * with `AbortError` when `signal` aborts. The timer keeps the process alive, as any awaited wait.
 */
export function sleep(
  ms: number,
  options: { signal?: AbortSignal; channel?: string; what?: string } = {},
): Promise<void> {
  const { signal, channel, what = 'wait' } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
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
      reject(abortError(signal!, what));
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (channel !== undefined) {
      set = sleepers.get(channel) ?? new Set();
      sleepers.set(channel, set);
      set.add(done);
    }
  });
}

/** Validates `{timeout, signal}` and returns the deadline in `performance.now()` milliseconds. */
export function checkAcquireOptions(
  options: AcquireOptions | undefined,
  where: string,
): { deadline: number; signal?: AbortSignal } {
  if (options === undefined || options === null) return { deadline: Number.POSITIVE_INFINITY };
  if (typeof options !== 'object')
    throw new TypeError(`${where}: options must be an object, got ${String(options)}`);
  const { timeout, signal } = options;
  if (
    timeout !== undefined &&
    timeout !== null &&
    (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)
  ) {
    throw new RangeError(
      `${where}: timeout must be a number of seconds >= 0, got ${String(timeout)}`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new TypeError(`${where}: signal must be an AbortSignal, got ${String(signal)}`);
  const deadline =
    timeout === undefined || timeout === null
      ? Number.POSITIVE_INFINITY
      : performance.now() + timeout * 1000;
  return signal ? { deadline, signal } : { deadline };
}

/**
 * Calls `attempt` until it returns something other than `undefined`, pausing with backoff (or
 * until woken on `channel`) between tries. Rejects with `Timeout` after `options.timeout` seconds
 * (after at least one try) and with `AbortError` when `options.signal` aborts (before any try if
 * it already has). `what` names the wait in error messages, e.g. `acquire lock "jobs"`.
 */
export async function waitFor<T>(
  attempt: () => T | undefined,
  options: AcquireOptions | undefined,
  what: string,
  channel?: string,
): Promise<T> {
  const { deadline, signal } = checkAcquireOptions(options, what);
  if (signal?.aborted) throw abortError(signal, what);
  const backoff = new Backoff();
  for (;;) {
    const result = attempt();
    if (result !== undefined) return result;
    const left = deadline - performance.now();
    if (left <= 0) throw new Timeout(`${what}: timed out after ${options?.timeout} s`);
    await sleep(Math.min(left, backoff.next()), { signal, channel, what });
  }
}
