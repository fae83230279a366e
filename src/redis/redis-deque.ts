/**
 * RedisDeque: the Deque on Redis, one list (`dd:{name}:items`), shared by processes on any number
 * of machines. Every method is one script call (collection-scripts.ts), so each is atomic: N
 * consumers popping receive each item exactly once. Waiting pops listen on a pub/sub channel that
 * every append publishes to, and poll with a bounded backoff besides (no blocking command for a
 * failover to cut). Values are encoded as the RedisWorkQueue's payloads (redis-codec.ts).
 */
import { checkOptionalSeconds, checkSignal } from '../cache/checks.js';
import { describeValue } from '../cache/errors.js';
import { abortError, Backoff } from '../cache/waiting.js';
import type { PopOptions } from '../collections/deque.js';
import { decodeValue, encodeValue } from './redis-codec.js';
import { RedisObject, type RedisTarget } from './redis-handle.js';

/** Options of `new RedisDeque()`. */
export interface RedisDequeOptions {
  /**
   * The most items the deque keeps: an append beyond it drops items from the other end, in the
   * same script. Kept by this object only (as the SQLite Deque's): every process that wants the
   * bound passes it. @default undefined (unbounded)
   */
  readonly maxlen?: number;
}

/** Items read per `LRANGE` by iteration. */
const PAGE = 500;
/** Longest pause of a waiting pop between two looks (pub/sub wakes it sooner). */
const POLL_MAX_MS = 1000;

function checkMaxlen(maxlen: unknown): number {
  if (maxlen === undefined || maxlen === null || maxlen === Number.POSITIVE_INFINITY) return -1;
  if (typeof maxlen !== 'number' || !Number.isInteger(maxlen) || maxlen < 0)
    throw new RangeError(
      `new RedisDeque(): maxlen must be a non-negative integer or undefined, got ${describeValue(maxlen)}`,
    );
  return maxlen;
}

/**
 * A double-ended queue in Redis. Every method is async and atomic across processes and machines.
 *
 * Values: anything the RedisWorkQueue stores as a payload (JSON when exact, else v8's structured
 * clone); `undefined` is refused because the pops and peeks return it for "empty".
 *
 * Not guaranteed: iteration is not a snapshot. It reads pages by position, so items popped or
 * pushed at the front meanwhile shift what it sees (it may skip or repeat an item); use it to
 * inspect, not to consume. Durability is Redis's (docs/scale-out.md). A call in flight when the
 * connection drops is sent again after the reconnection: an append may then add its item twice,
 * and a pop whose reply was lost loses its item. For work that must be handled once, even across
 * crashes, use RedisWorkQueue (leases) instead.
 *
 * @example
 * const jobs = new RedisDeque<string>('redis://127.0.0.1:6379/0#jobs');
 * await jobs.append('a');
 * const next = await jobs.popLeft({ wait: 5 }); // waits up to 5 s for another process's append
 * await jobs.close();
 */
export class RedisDeque<T = unknown> extends RedisObject implements AsyncIterable<T> {
  /** The bound given to this object (`Infinity`: none). */
  readonly maxlen: number;

  /**
   * The deque named by `target`: a `redis://[user:password@]host[:port][/db]#name` locator (this
   * object makes the connection and closes it), or `{client, name}` on an ioredis client you own.
   * @throws TypeError / RangeError for a bad locator, name or maxlen.
   */
  constructor(target: string | RedisTarget, options: RedisDequeOptions = {}) {
    super('RedisDeque', 'dd', target);
    const maxlen = checkMaxlen(options?.maxlen);
    this.maxlen = maxlen < 0 ? Number.POSITIVE_INFINITY : maxlen;
  }

  async #push(side: 'l' | 'r', values: readonly T[], what: string): Promise<void> {
    const encoded = values.map((value) => {
      if (value === undefined)
        throw new TypeError(`RedisDeque.${what}(): undefined cannot be stored (use null)`);
      return encodeValue(value);
    });
    if (encoded.length === 0) return;
    await this.script('dequePush', [
      side,
      this.maxlen === Number.POSITIVE_INFINITY ? -1 : this.maxlen,
      ...encoded,
    ]);
  }

  /** Adds `value` at the back. */
  append(value: T): Promise<void> {
    return this.#push('r', [value], 'append');
  }

  /** Adds `value` at the front. */
  appendLeft(value: T): Promise<void> {
    return this.#push('l', [value], 'appendLeft');
  }

  /** Adds every value at the back, in order, in one script call. */
  extend(values: Iterable<T>): Promise<void> {
    return this.#push('r', [...values], 'extend');
  }

  /** Adds every value at the front, one after the other (so they end up reversed), in one call. */
  extendLeft(values: Iterable<T>): Promise<void> {
    return this.#push('l', [...values], 'extendLeft');
  }

  async #op(op: string): Promise<T | undefined> {
    const stored = await this.script('dequeOp', [op]);
    return stored === null || stored === undefined ? undefined : (decodeValue(stored) as T);
  }

  /**
   * Removes and returns the back item; with `wait` (seconds), waits for one appended by any
   * process. `undefined` when the deque is (and stayed) empty.
   * @throws AbortError when `signal` aborts the wait.
   */
  pop(options?: PopOptions): Promise<T | undefined> {
    return this.#pop('pop', options);
  }

  /** Removes and returns the front item; with `wait`, waits for one (see `pop`). */
  popLeft(options?: PopOptions): Promise<T | undefined> {
    return this.#pop('popLeft', options);
  }

  async #pop(op: 'pop' | 'popLeft', options: PopOptions = {}): Promise<T | undefined> {
    const where = `RedisDeque.${op}()`;
    const wait = checkOptionalSeconds('wait', options?.wait, {
      where,
      allowZero: true,
      allowInfinity: true,
    });
    const signal = checkSignal('signal', options?.signal, { where });
    if (signal?.aborted) throw abortError(signal, `${where}: the wait`);
    const first = await this.#op(op);
    if (first !== undefined || !wait) return first;
    const deadline = performance.now() + wait * 1000;
    const backoff = new Backoff({ firstMs: 10, maxMs: POLL_MAX_MS });
    for (;;) {
      // Listen before looking, so that an append between the look and the sleep still wakes us.
      const woken = await this.handle.wakeUp('wake');
      let item: T | undefined;
      try {
        item = await this.#op(op);
      } catch (error) {
        woken.cancel();
        throw error;
      }
      const left = deadline - performance.now();
      if (item !== undefined || left <= 0) {
        woken.cancel();
        return item;
      }
      await woken.wait(Math.min(left, backoff.next()), signal);
      if (this.handle.closed) throw new Error(`${where}: the deque was closed during the wait`);
    }
  }

  /**
   * Pops items from the front as they come, from any process, until `signal` aborts (the loop
   * then ends without an error). Each item goes to one consumer only.
   * @example for await (const job of deque.consume({ signal })) await handle(job);
   */
  async *consume(options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<T, void> {
    const signal = checkSignal('signal', options?.signal, { where: 'RedisDeque.consume()' });
    for (;;) {
      let item: T | undefined;
      try {
        item = await this.popLeft({ wait: Number.POSITIVE_INFINITY, signal });
      } catch (error) {
        if (signal?.aborted) return;
        throw error;
      }
      if (item !== undefined) yield item;
    }
  }

  /** The back item without removing it, or `undefined` when empty. */
  peek(): Promise<T | undefined> {
    return this.#op('peek');
  }

  /** The front item without removing it, or `undefined` when empty. */
  peekLeft(): Promise<T | undefined> {
    return this.#op('peekLeft');
  }

  /** How many items there are. */
  async len(): Promise<number> {
    return (await this.script('dequeOp', ['len'])) as number;
  }

  /** Removes every item; resolves with how many there were. */
  async clear(): Promise<number> {
    return (await this.script('dequeOp', ['clear'])) as number;
  }

  /** The items front to back, a page at a time (not a snapshot: see the class notes). */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void> {
    for (let start = 0; ; start += PAGE) {
      const page = (await this.script('dequeOp', ['range', start, start + PAGE - 1])) as string[];
      for (const stored of page) yield decodeValue(stored) as T;
      if (page.length < PAGE) return;
    }
  }

  /** The items front to back, as an array (one page at a time). */
  async toArray(): Promise<T[]> {
    const items: T[] = [];
    for await (const item of this) items.push(item);
    return items;
  }
}
