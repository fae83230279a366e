/**
 * Deque: a persistent double-ended queue shared by processes. It is stored as python-diskcache
 * stores its Deque - each item a value under an integer queue key around 500000000000000 in a
 * Cache with eviction policy 'none' - so Python's `diskcache.Deque(directory=...)` opens the same
 * directory. Every operation is one Cache statement or one Cache transaction; this file runs no
 * SQL and uses only Cache's public methods.
 */
import { isDeepStrictEqual } from 'node:util';
import { type AsyncMethods, asyncView, retryWhileBusy } from '../cache/async-view.js';
import type { Cache } from '../cache/cache.js';
import { checkOptionalSeconds, checkSignal, type Seconds } from '../cache/checks.js';
import { describeValue, IndexError, ValueError } from '../cache/errors.js';
import { abortError, Backoff, sleep, wakeAll } from '../cache/waiting.js';
import { adopt, PersistentCollection } from './persistent-collection.js';

/** Options of `new Deque(directory, options)` and `Deque.fromCache(cache, options)`. */
export interface DequeOptions {
  /**
   * The most items the deque keeps: an append beyond it drops items from the other end, in the
   * same transaction. Kept by this object only, not on disk (as in diskcache): every process that
   * wants the bound passes it. A non-negative integer; `undefined` or `Infinity` for no bound.
   * @default undefined (unbounded)
   */
  readonly maxlen?: number;
}

type Side = 'back' | 'front';

/** The methods of `deque.async` that are the synchronous ones returning promises. */
const ASYNC_METHODS = [
  'append',
  'appendLeft',
  'extend',
  'extendLeft',
  'peek',
  'peekLeft',
  'at',
  'setAt',
  'deleteAt',
  'remove',
  'count',
  'rotate',
  'reverse',
  'clear',
  'transact',
] as const;

/** Options of `deque.async.popLeft` / `popRight`. */
export interface PopOptions {
  /**
   * Seconds to wait for an item (appended by any process) when the deque is empty; `undefined`
   * (or 0) does not wait. `Infinity` waits as long as it takes. @default undefined
   */
  readonly wait?: Seconds;
  /** Cancels the wait: the pop then rejects with `AbortError`. */
  readonly signal?: AbortSignal;
}

/**
 * `deque.async`: the Deque's methods returning promises (a busy write lock is waited for without
 * blocking the event loop), plus pops that wait for items and `consume`.
 */
export type AsyncDeque<T> = AsyncMethods<Deque<T>, (typeof ASYNC_METHODS)[number]> & {
  /** Removes and returns the front item; with `wait`, waits for one. `undefined` when none came. */
  popLeft(options?: PopOptions): Promise<T | undefined>;
  /** Removes and returns the back item; with `wait`, waits for one. `undefined` when none came. */
  popRight(options?: PopOptions): Promise<T | undefined>;
  /**
   * Pops items from the front as they come, from any process, until `signal` aborts (the loop
   * then ends without an error). Each item is delivered to one consumer only.
   * @example for await (const job of deque.async.consume({ signal })) handle(job);
   */
  consume(options?: { readonly signal?: AbortSignal }): AsyncGenerator<T, void, undefined>;
};

/** How long a waiting pop sleeps at most between two looks: how late another process's append may be noticed. */
const POP_POLL_MAX_MS = 50;

const RETRY = { retry: true } as const;
/** Iteration: a value this process cannot decode is an `Undecodable` placeholder, not an error. */
const WALK = { retry: true, placeholder: true } as const;
const PUSH_BACK = { side: 'back', retry: true } as const;
const PULL_FRONT = { side: 'front', retry: true } as const;

function checkMaxlen(maxlen: unknown): number {
  if (maxlen === undefined || maxlen === null || maxlen === Number.POSITIVE_INFINITY)
    return Number.POSITIVE_INFINITY;
  if (typeof maxlen !== 'number' || !Number.isInteger(maxlen)) {
    throw new TypeError(
      `Deque maxlen must be a non-negative integer or undefined, got ${describeValue(maxlen)}`,
    );
  }
  if (maxlen < 0)
    throw new RangeError(`Deque maxlen must be a non-negative integer or undefined, got ${maxlen}`);
  return maxlen;
}

function checkIndex(method: string, index: unknown): number {
  if (typeof index !== 'number' || !Number.isInteger(index)) {
    throw new TypeError(
      `Deque.${method}(index): index must be an integer, got ${describeValue(index)}`,
    );
  }
  return index;
}

function toArray<T>(method: string, iterable: unknown): T[] {
  if (
    iterable === null ||
    iterable === undefined ||
    typeof (iterable as Iterable<T>)[Symbol.iterator] !== 'function'
  ) {
    throw new TypeError(
      `Deque.${method}(iterable): expected an iterable, got ${describeValue(iterable)}`,
    );
  }
  return Array.from(iterable as Iterable<T>);
}

function first<T>(iterator: Iterator<T>): T | undefined {
  const step = iterator.next();
  iterator.return?.(undefined);
  return step.done ? undefined : step.value;
}

/**
 * A persistent double-ended queue in a directory, shared safely by any number of processes.
 * Every single operation is atomic across processes: N processes calling `popLeft` receive each
 * item exactly once.
 *
 * Values: anything a Cache stores (structured clone); `undefined` is rejected because the pops and
 * peeks return it for "empty". `remove` and `count` compare values structurally
 * (`util.isDeepStrictEqual`), never by identity: every read returns a fresh copy.
 *
 * Not guaranteed: iteration is not a snapshot. It reads keys in pages without a lock, skips items
 * removed meanwhile and stops at the far end seen when it started (items pushed there later are not
 * visited), so it never fails and never yields an item twice, but may miss items moved meanwhile.
 * Positional access (`at`, `setAt`, `deleteAt`) walks the keys: O(n) from the nearer end.
 * The cache must hold nothing but the deque: `length` counts every entry of it.
 */
export class Deque<T = unknown> extends PersistentCollection implements Iterable<T> {
  #maxlen: number;
  #async: AsyncDeque<T> | undefined;
  /** The in-process wake-up channel of this deque's directory (appends wake waiting pops). */
  readonly #channel: string;

  /**
   * Opens (creating if needed) the deque stored in `directory`; with no directory, a new
   * temporary one.
   * @throws TypeError / RangeError for a bad `maxlen`; the Cache's errors for a bad directory.
   */
  constructor(directory?: string, options: DequeOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError(`Deque options must be an object, got ${describeValue(options)}`);
    const maxlen = checkMaxlen(options.maxlen);
    super(directory);
    this.#maxlen = maxlen;
    this.#channel = `deque\u0000${this.directory}`;
  }

  /** A deque stored in an open cache (which stays open when the deque is closed). */
  static fromCache<T = unknown>(cache: Cache, options: DequeOptions = {}): Deque<T> {
    return adopt(cache, 'Deque.fromCache', () => new Deque<T>(undefined, options));
  }

  /** The bound on the number of items (`Infinity` when unbounded). */
  get maxlen(): number {
    return this.#maxlen;
  }

  /** Changes the bound; drops items from the front (in one transaction) until it holds. */
  set maxlen(maxlen: number) {
    this.#maxlen = checkMaxlen(maxlen);
    if (this.#maxlen !== Number.POSITIVE_INFINITY) this.transact(() => this.#trim('front'));
  }

  /** The number of items. */
  get length(): number {
    return this.cache.size;
  }

  get [Symbol.toStringTag](): string {
    return 'Deque';
  }

  // ---- both ends ------------------------------------------------------------------------------

  /** Adds `value` at the back (dropping from the front beyond `maxlen`). */
  append(value: T): void {
    // The common case, kept free of allocations: one autocommit statement.
    if (this.#maxlen === Number.POSITIVE_INFINITY) {
      this.cache.push(value, PUSH_BACK);
      wakeAll(this.#channel);
    } else this.#add([value], 'back');
  }

  /** Adds `value` at the front (dropping from the back beyond `maxlen`). */
  appendLeft(value: T): void {
    this.#add([value], 'front');
  }

  /**
   * Adds every value of `iterable` at the back, in order, in ONE transaction: all or nothing, and
   * no other process sees a part of the batch. The iterable is read (and every value serialized)
   * before the write lock is taken.
   */
  extend(iterable: Iterable<T>): void {
    this.#add(toArray<T>('extend', iterable), 'back');
  }

  /** Adds every value of `iterable` at the front, one after the other (so they end up reversed), in one transaction. */
  extendLeft(iterable: Iterable<T>): void {
    this.#add(toArray<T>('extendLeft', iterable), 'front');
  }

  /** Removes and returns the item at the back; `undefined` when the deque is empty. */
  pop(): T | undefined {
    return this.cache.pull<T>({ side: 'back', retry: true })?.value;
  }

  /** Removes and returns the item at the front; `undefined` when the deque is empty. */
  popLeft(): T | undefined {
    return this.cache.pull<T>(PULL_FRONT)?.value;
  }

  /** The item at the back, left in place; `undefined` when the deque is empty. */
  peek(): T | undefined {
    return this.cache.peek<T>({ side: 'back', retry: true })?.value;
  }

  /** The item at the front, left in place; `undefined` when the deque is empty. */
  peekLeft(): T | undefined {
    return this.cache.peek<T>({ side: 'front', retry: true })?.value;
  }

  /**
   * The same methods returning promises, for servers, plus `popLeft`/`popRight` that can wait for
   * an item and `consume`. A busy write lock is waited for with async pauses up to the cache's
   * `timeout`, then `Timeout`; waiting for an item polls (every 50 ms at most, at once for an
   * append by this process).
   */
  get async(): AsyncDeque<T> {
    this.#async ??= this.#makeAsync();
    return this.#async;
  }

  #makeAsync(): AsyncDeque<T> {
    const cache = this.cache;
    const base = asyncView(this as Deque<T>, ASYNC_METHODS, {
      timeout: () => cache.timeout,
      name: () => cache.directory,
      group: { methods: ['append', 'appendLeft'], commit: (ops) => cache.groupCommit(ops) },
    });
    const pop = async (side: Side, options: PopOptions = {}): Promise<T | undefined> => {
      const wait = checkOptionalSeconds('wait', options.wait, {
        where: `deque.async.pop${side === 'front' ? 'Left' : 'Right'}()`,
        allowZero: true,
        allowInfinity: true,
      });
      const signal = checkSignal('signal', options.signal);
      const deadline = performance.now() + (wait ?? 0) * 1000;
      const backoff = new Backoff({ firstMs: 1, maxMs: POP_POLL_MAX_MS });
      const what = 'deque pop';
      for (;;) {
        if (signal?.aborted) throw abortError(signal, what);
        const item = await retryWhileBusy(
          () => (side === 'front' ? this.popLeft() : this.pop()),
          cache.timeout,
          false,
          cache.directory,
        );
        if (item !== undefined) return item;
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        await sleep(Math.min(left, backoff.next()), { signal, channel: this.#channel, what });
      }
    };
    const consume = async function* (
      options: { readonly signal?: AbortSignal } = {},
    ): AsyncGenerator<T, void, undefined> {
      const signal = checkSignal('signal', options.signal);
      for (;;) {
        let item: T | undefined;
        try {
          item = await pop('front', { wait: Number.POSITIVE_INFINITY, signal });
        } catch (error) {
          if (signal?.aborted) return;
          throw error;
        }
        if (item !== undefined) yield item;
      }
    };
    return Object.freeze({
      ...base,
      popLeft: (options?: PopOptions) => pop('front', options),
      popRight: (options?: PopOptions) => pop('back', options),
      consume,
    });
  }

  #add(values: readonly T[], side: Side): void {
    if (values.length === 0) return;
    const bounded = this.#maxlen !== Number.POSITIVE_INFINITY;
    if (values.length === 1 && !bounded) {
      this.cache.push(values[0], { side, retry: true }); // one autocommit statement
    } else {
      // Values that the bound would drop at once are never written.
      const kept =
        values.length > this.#maxlen ? values.slice(values.length - this.#maxlen) : values;
      this.transact(() => {
        this.cache.pushMany(kept, { side, retry: true });
        if (bounded) this.#trim(side === 'back' ? 'front' : 'back');
      });
    }
    wakeAll(this.#channel);
  }

  /** Inside a transaction: drops items from `side` until the bound holds. */
  #trim(side: Side): void {
    while (this.cache.size > this.#maxlen && this.cache.pull({ side, retry: true }) !== undefined);
  }

  // ---- positions ------------------------------------------------------------------------------

  /** The item at `index` (negative: from the back). @throws IndexError out of range, TypeError for a non-integer. */
  at(index: number): T {
    const position = checkIndex('at', index);
    return this.transact(() => this.cache.get<T>(this.#keyAt('at', position)) as T);
  }

  /** Replaces the item at `index` (negative: from the back), keeping its position. @throws IndexError out of range. */
  setAt(index: number, value: T): void {
    const position = checkIndex('setAt', index);
    this.transact(() => this.cache.set(this.#keyAt('setAt', position), value, RETRY));
  }

  /** Removes the item at `index` (negative: from the back). @throws IndexError out of range. */
  deleteAt(index: number): void {
    const position = checkIndex('deleteAt', index);
    this.transact(() => this.cache.delete(this.#keyAt('deleteAt', position), RETRY));
  }

  /** Inside a transaction: the queue key of the item at `index`, walking from the nearer end. */
  #keyAt(method: string, index: number): unknown {
    const length = this.cache.size;
    const position = index < 0 ? index + length : index;
    if (position < 0 || position >= length) {
      throw new IndexError(
        `Deque.${method}(${index}): index out of range (the deque has ${length} item${length === 1 ? '' : 's'})`,
      );
    }
    const fromFront = position < length / 2;
    const steps = fromFront ? position : length - 1 - position;
    let step = 0;
    for (const key of this.cache.iterKeys({ reverse: !fromFront })) {
      if (step++ === steps) return key;
    }
    throw new IndexError(
      `Deque.${method}(${index}): index out of range (the cache holds fewer keys than its count)`,
    );
  }

  // ---- values ---------------------------------------------------------------------------------

  /**
   * Removes the first item (from the front) structurally equal to `value` (`util.isDeepStrictEqual`).
   * @throws ValueError when no item is equal to it.
   */
  remove(value: T): void {
    this.transact(() => {
      for (const key of this.cache.iterKeys()) {
        const item = this.cache.get(key);
        if (item !== undefined && isDeepStrictEqual(item, value)) {
          this.cache.delete(key, RETRY);
          return;
        }
      }
      throw new ValueError('Deque.remove(value): value not in deque');
    });
  }

  /** How many items are structurally equal to `value` (`util.isDeepStrictEqual`); a consistent snapshot. */
  count(value: T): number {
    return this.transact(() => {
      let count = 0;
      for (const [, item] of this.cache.entries()) if (isDeepStrictEqual(item, value)) count++;
      return count;
    });
  }

  // ---- the whole deque ------------------------------------------------------------------------

  /**
   * Rotates `steps` to the right (negative: to the left) in one transaction: `rotate(1)` moves the
   * back item to the front. Moves at most half the items, whichever way is shorter.
   * @throws TypeError when `steps` is not an integer.
   */
  rotate(steps = 1): void {
    if (typeof steps !== 'number' || !Number.isInteger(steps)) {
      throw new TypeError(
        `Deque.rotate(steps): steps must be an integer, got ${describeValue(steps)}`,
      );
    }
    this.transact(() => {
      const length = this.cache.size;
      if (length === 0) return;
      const right = ((steps % length) + length) % length;
      if (right === 0) return;
      const [from, to, count]: [Side, Side, number] =
        right <= length / 2 ? ['back', 'front', right] : ['front', 'back', length - right];
      const moved: unknown[] = [];
      for (let i = 0; i < count; i++) {
        const entry = this.cache.pull({ side: from, retry: true });
        if (entry === undefined) break;
        moved.push(entry.value);
      }
      // Pushed one after the other onto the other end, as repeated pop + appendLeft would.
      this.cache.pushMany(moved, { side: to, retry: true });
    });
  }

  /** Reverses the deque in place, in one transaction (items swap values; keys stay). */
  reverse(): void {
    this.transact(() => {
      const keys = [...this.cache.iterKeys()];
      for (let i = 0, j = keys.length - 1; i < j; i++, j--) {
        const front = this.cache.get(keys[i]);
        const back = this.cache.get(keys[j]);
        if (front === undefined || back === undefined) continue;
        this.cache.set(keys[i], back, RETRY);
        this.cache.set(keys[j], front, RETRY);
      }
    });
  }

  /** Removes every item, in one transaction. */
  clear(): void {
    this.transact(() => this.cache.clear(RETRY));
  }

  /** The items from front to back (not a snapshot: see the class notes). */
  [Symbol.iterator](): Generator<T, undefined, unknown> {
    return this.#walk(false);
  }

  /** The items from back to front (not a snapshot: see the class notes). */
  reversed(): Generator<T, undefined, unknown> {
    return this.#walk(true);
  }

  *#walk(reverse: boolean): Generator<T, undefined, unknown> {
    // The far end as the walk starts: items pushed beyond it later are not visited, so an item
    // that a concurrent rotate moves from behind the walk to beyond it is not met twice.
    const end = first(this.cache.iterKeys({ reverse: !reverse })) as number | undefined;
    if (end === undefined) return undefined;
    for (const key of this.cache.iterKeys({ reverse }) as Generator<number>) {
      if (reverse ? key < end : key > end) return undefined;
      const value = this.cache.get<T>(key, WALK);
      if (value !== undefined) yield value; // undefined: removed by another process meanwhile
    }
    return undefined;
  }
}
