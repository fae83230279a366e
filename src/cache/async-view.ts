/**
 * async-view: the `.async` views — the same methods as the synchronous API, returning promises,
 * that never block the event loop while another process holds the write lock. Each call runs the
 * synchronous method in `failFast` mode (a busy database throws at once instead of sleeping in
 * SQLite's busy handler); a busy failure is retried after an async backoff (1 ms doubling to
 * 50 ms, with jitter) until the object's `timeout` passes (or forever with `retry: true`), then
 * rejects with `Timeout`. Reads that never wait for the lock cost one extra Promise, no more.
 *
 * Group commit: the single-entry writes (`group.methods`) issued in the same tick (before the
 * next microtask runs) are committed in ONE transaction, each in a savepoint of its own: every
 * promise settles after that commit; an op that throws rejects alone (its changes undone); when
 * the transaction cannot begin within `timeout` or cannot commit, every op of the group rejects
 * with that error. A call with `retry: true` is not grouped (it may wait forever).
 */
import type { Seconds } from './checks.js';
import { isBusy, Timeout } from './errors.js';
import { collectRemovals, failFast, type Settled } from './transaction.js';
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
      const removals: Promise<void>[] = [];
      const result = failFast(() => collectRemovals(removals, attempt));
      if (removals.length > 0) await Promise.all(removals);
      return result;
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

/** Group commit of an async view: which methods, and how a group is committed. */
export interface GroupCommit {
  readonly methods: readonly string[];
  /** Runs the ops in one write transaction (`Transactor.writeEach`). */
  readonly commit: (ops: readonly (() => unknown)[]) => Settled[];
}

interface Pending {
  readonly op: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Collects the ops issued in one tick and commits them together at the next microtask. */
export function grouper(
  group: GroupCommit,
  options: { readonly timeout: () => Seconds; readonly name: () => string },
): (op: () => unknown) => Promise<unknown> {
  let pending: Pending[] = [];
  const flush = async (): Promise<void> => {
    const ops = pending;
    pending = [];
    const only = ops.length === 1 ? ops[0]! : undefined;
    if (only) {
      // Alone in its tick: the plain path (no savepoint).
      retryWhileBusy(only.op, options.timeout(), false, options.name()).then(
        only.resolve,
        only.reject,
      );
      return;
    }
    let settled: Settled[];
    try {
      settled = await retryWhileBusy(
        () => group.commit(ops.map((item) => item.op)),
        options.timeout(),
        false,
        options.name(),
      );
    } catch (error) {
      for (const item of ops) item.reject(error);
      return;
    }
    ops.forEach((item, i) => {
      const outcome = settled[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  };
  return (op) =>
    new Promise((resolve, reject) => {
      pending.push({ op, resolve, reject });
      if (pending.length === 1) queueMicrotask(() => void flush());
    });
}

/**
 * Builds the async view of `methods` of `target`: each calls the synchronous method through
 * `retryWhileBusy` with the target's `timeout` (and the call's own `retry` option); the methods
 * of `options.group` are committed in groups (see the header).
 */
export function asyncView<T extends object, K extends keyof T & string>(
  target: T,
  methods: readonly K[],
  options: {
    readonly timeout: () => Seconds;
    readonly name: () => string;
    readonly group?: GroupCommit;
    /** The group's queue, when the caller shares it with methods of its own (`grouper`). */
    readonly enqueue?: (op: () => unknown) => Promise<unknown>;
  },
): AsyncMethods<T, K> {
  const view: Record<string, unknown> = {};
  const grouped = options.group ? new Set(options.group.methods) : new Set<string>();
  const enqueue = options.enqueue ?? (options.group ? grouper(options.group, options) : undefined);
  for (const name of methods) {
    const method = target[name] as unknown as (...args: unknown[]) => unknown;
    if (typeof method !== 'function') throw new TypeError(`asyncView: ${name} is not a method`);
    const counting = COUNTING.has(name);
    if (enqueue && grouped.has(name)) {
      view[name] = (...args: unknown[]) =>
        retryOption(args)
          ? retryWhileBusy(
              () => method.apply(target, args),
              options.timeout(),
              true,
              options.name(),
            )
          : enqueue(() => method.apply(target, args));
      continue;
    }
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
