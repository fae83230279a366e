/**
 * async-view: the `.async` views — the same methods as the synchronous API, returning promises,
 * that never block the event loop while another process holds the write lock. Each call runs the
 * synchronous method in `failFast` mode (a busy database throws at once instead of sleeping in
 * SQLite's busy handler); a busy failure is retried after an async backoff (1 ms doubling to
 * 50 ms, with jitter) until the object's `timeout` passes (or forever with `retry: true`), then
 * rejects with `Timeout`. Reads that never wait for the lock cost one extra Promise, no more.
 *
 * Not guaranteed: value files are still written synchronously inside a call (a large value
 * blocks for its write, never for another process's lock).
 */
import type { Seconds } from './checks.js';
import { isBusy, Timeout } from './errors.js';
import { failFast } from './transaction.js';
import { Backoff, sleep } from './waiting.js';

/** A method of `T` turned into one that returns a promise of its result. */
type Async<F> = F extends (...args: infer A) => infer R
  ? (...args: A) => Promise<Awaited<R>>
  : never;

/** The async view of the methods `K` of `T`. */
export type AsyncMethods<T, K extends keyof T> = { readonly [P in K]: Async<T[P]> };

/** Whether an error means "the lock was busy" (and so may be retried after a pause). */
function isLockTimeout(error: unknown): error is Timeout {
  return error instanceof Timeout && (isBusy(error.cause) || error.cause instanceof Timeout);
}

/** Options read from a call's last argument, if it is an options object. */
function retryOption(args: readonly unknown[]): boolean {
  const last = args[args.length - 1];
  return (
    last !== null &&
    typeof last === 'object' &&
    !Array.isArray(last) &&
    (last as { retry?: unknown }).retry === true
  );
}

/**
 * Runs `attempt` (synchronous) without ever blocking on another process's lock: busy failures
 * are retried after async pauses until `timeout` seconds have passed (forever when `retry`).
 * `onPartial` receives the count of a batch remover's Timeout (entries removed before it).
 */
export async function retryWhileBusy<T>(
  attempt: () => T,
  timeout: Seconds,
  retry: boolean,
  what: string,
  onPartial?: (count: number) => void,
): Promise<T> {
  const deadline = retry ? Number.POSITIVE_INFINITY : performance.now() + timeout * 1000;
  let backoff: Backoff | undefined;
  for (;;) {
    try {
      return failFast(attempt);
    } catch (error) {
      if (!isLockTimeout(error)) throw error;
      if (error.count > 0) onPartial?.(error.count);
      const left = deadline - performance.now();
      if (left <= 0)
        throw new Timeout(`could not get the write lock of ${what} within ${timeout} s`, {
          cause: error,
        });
      backoff ??= new Backoff({ firstMs: 1, maxMs: 50 });
      await sleep(Math.min(left, backoff.next()));
    }
  }
}

/** The batch removers: their result adds up the counts removed by attempts that timed out. */
const COUNTING = new Set(['clear', 'evict', 'expire', 'cull']);

/**
 * Builds the async view of `methods` of `target`: each calls the synchronous method through
 * `retryWhileBusy` with the target's `timeout` (and the call's own `retry` option).
 */
export function asyncView<T extends object, K extends keyof T & string>(
  target: T,
  methods: readonly K[],
  options: { readonly timeout: () => Seconds; readonly name: () => string },
): AsyncMethods<T, K> {
  const view: Record<string, unknown> = {};
  for (const name of methods) {
    const method = target[name] as unknown as (...args: unknown[]) => unknown;
    if (typeof method !== 'function') throw new TypeError(`asyncView: ${name} is not a method`);
    const counting = COUNTING.has(name);
    view[name] = async (...args: unknown[]) => {
      let partial = 0;
      const result = await retryWhileBusy(
        () => method.apply(target, args),
        options.timeout(),
        retryOption(args),
        options.name(),
        counting ? (count) => (partial += count) : undefined,
      );
      return counting ? (result as number) + partial : result;
    };
  }
  return Object.freeze(view) as AsyncMethods<T, K>;
}
