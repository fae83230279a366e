/**
 * Averager: a running average kept in one cache entry as `[total, count]`, updated atomically by
 * any number of processes (each `add` is one transaction). As diskcache's `Averager`, except that
 * "no value yet" is `undefined` rather than None, and the pair is serialized for Node, not pickled.
 */
import type { Seconds } from '../cache/checks.js';
import type { Tag } from '../cache/types.js';
import { checkCache, checkLockOptions, readPair } from './options.js';
import type { RecipeCache } from './types.js';

/** Options of `new Averager()`. */
export interface AveragerOptions {
  /** Seconds after the last `add` after which the entry expires (the average starts over). @default undefined (never) */
  readonly expire?: Seconds | null;
  readonly tag?: Tag;
}

type Pair = readonly [total: number, count: number];

const readTotals = (value: unknown): Pair => readPair<Pair>(value, 'number', 'number') ?? [0, 0];

/**
 * A running average shared by processes.
 * @example
 * const latency = new Averager(cache, 'latency-ms');
 * latency.add(12.5);
 * latency.get(); // the mean of every value added so far, by any process
 */
export class Averager {
  readonly cache: RecipeCache;
  readonly key: unknown;
  readonly #expire: number | null;
  readonly #tag: Tag;

  constructor(cache: RecipeCache, key: unknown, options?: AveragerOptions) {
    this.cache = checkCache(cache, 'new Averager()');
    const checked = checkLockOptions(options, 'new Averager()');
    this.key = key;
    this.#expire = checked.expire;
    this.#tag = checked.tag;
  }

  /** Adds `value` to the average (atomically, in one transaction). */
  add(value: number): void {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new TypeError(`Averager.add(): value must be a finite number, got ${String(value)}`);
    this.cache.transact(
      () => {
        const [total, count] = readTotals(this.cache.get(this.key, { retry: true }));
        this.cache.set(this.key, [total + value, count + 1], {
          expire: this.#expire,
          tag: this.#tag,
          retry: true,
        });
      },
      { retry: true },
    );
  }

  /** The average of the values added so far, or `undefined` when there are none. */
  get(): number | undefined {
    const [total, count] = readTotals(this.cache.get(this.key, { retry: true }));
    return count === 0 ? undefined : total / count;
  }

  /** Removes the entry and returns its average (`undefined` when there was none). */
  pop(): number | undefined {
    const [total, count] = readTotals(this.cache.pop(this.key, { retry: true }));
    return count === 0 ? undefined : total / count;
  }
}
