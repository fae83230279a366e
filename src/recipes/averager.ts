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

const RETRY = { retry: true } as const;

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
  #async: AsyncAverager | undefined;

  constructor(cache: RecipeCache, key: unknown, options?: AveragerOptions) {
    this.cache = checkCache(cache, 'new Averager()');
    const checked = checkLockOptions(options, 'new Averager()');
    this.key = key;
    this.#expire = checked.expire;
    this.#tag = checked.tag;
  }

  /** Adds `value` to the average (atomically, in one transaction). */
  add(value: number): void {
    this.cache.transact(this.#adding(value), RETRY);
  }

  /** The average of the values added so far, or `undefined` when there are none. */
  get(): number | undefined {
    return mean(this.cache.get(this.key, RETRY));
  }

  /** Removes the entry and returns its average (`undefined` when there was none). */
  pop(): number | undefined {
    return mean(this.cache.pop(this.key, RETRY));
  }

  /**
   * The same methods returning promises: a busy database (another process writing) is waited
   * for with async pauses, never blocking the event loop. For servers.
   * @example await latency.async.add(12.5); const mean = await latency.async.get();
   */
  get async(): AsyncAverager {
    this.#async ??= Object.freeze({
      add: async (value: number) => {
        const adding = this.#adding(value);
        await this.cache.async.transact(adding, RETRY);
      },
      get: async () => mean(await this.cache.async.get(this.key, RETRY)),
      pop: async () => mean(await this.cache.async.pop(this.key, RETRY)),
    });
    return this.#async;
  }

  /** The transaction that adds `value` (checked first: TypeError for a non-finite number). */
  #adding(value: number): () => void {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new TypeError(`Averager.add(): value must be a finite number, got ${String(value)}`);
    return () => {
      const [total, count] = readTotals(this.cache.get(this.key, RETRY));
      this.cache.set(this.key, [total + value, count + 1], {
        expire: this.#expire,
        tag: this.#tag,
        retry: true,
      });
    };
  }
}

/** `averager.async`: `add`, `get` and `pop` returning promises. */
export interface AsyncAverager {
  add(value: number): Promise<void>;
  get(): Promise<number | undefined>;
  pop(): Promise<number | undefined>;
}

function mean(stored: unknown): number | undefined {
  const [total, count] = readTotals(stored);
  return count === 0 ? undefined : total / count;
}
