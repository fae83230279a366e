/**
 * RedisIndex: the Index on Redis, an ordered map shared by processes on any number of machines: a
 * hash (field -> value) plus a zset (field -> insertion number), so iteration follows insertion
 * order. The read, set, delete and iteration scripts are the RedisWorkQueue results' own
 * (`mapScripts`, redis-results.ts), on the keys `di:{name}:map…`; pop, add, popItem and clear are
 * collection-scripts.ts. Keys and values are encoded as the queue's results (redis-codec.ts).
 */
import { KeyError } from '../cache/errors.js';
import type { AsyncResults, ResultKey } from '../collections/async-work-queue.js';
import { COLLECTION_SCRIPTS } from './collection-scripts.js';
import { decodeValue, encodeValue, resultField, resultKey } from './redis-codec.js';
import { RedisObject, type RedisTarget } from './redis-handle.js';
import { redisResults } from './redis-results.js';

/** A RedisIndex key: a string or a safe integer (they never collide: `'1'` and `1` differ). */
export type RedisIndexKey = ResultKey;

/**
 * An ordered map in Redis. Every method is async and atomic across processes and machines.
 * Insertion order as `Map`'s: overwriting a key keeps its place, deleting and re-adding it moves
 * it to the end.
 *
 * Keys: strings and safe integers (other keys are a TypeError). Values: anything a RedisWorkQueue
 * result can be (JSON when exact, else v8's structured clone); `undefined` is refused, since
 * `get` returns it for "absent".
 *
 * Not guaranteed: iteration reads pages without a lock: it sees entries added before it reaches
 * the end, skips entries removed meanwhile, and never yields one twice. Durability is Redis's.
 *
 * @example
 * const seen = new RedisIndex<number>('redis://127.0.0.1:6379/0#seen');
 * if (await seen.add('https://example.com/', Date.now())) console.log('new URL');
 * for await (const [url, at] of seen.items()) console.log(url, at);
 * await seen.close();
 */
export class RedisIndex<V = unknown>
  extends RedisObject
  implements AsyncIterable<[RedisIndexKey, V]>
{
  readonly #map: AsyncResults;

  /**
   * The index named by `target`: a `redis://…#name` locator (this object makes the connection
   * and closes it), or `{client, name}` on an ioredis client you own.
   * @throws TypeError / RangeError for a bad locator or name.
   */
  constructor(target: string | RedisTarget) {
    super('RedisIndex', 'di', target);
    this.#map = redisResults((name, args) => this.handle.run(COLLECTION_SCRIPTS[name], args));
  }

  /** The value of `key`, or `undefined`. */
  async get(key: RedisIndexKey): Promise<V | undefined> {
    return (await this.#map.get(key)) as V | undefined;
  }

  /** Sets `key` to `value` (a new key goes last). Resolves with this index. */
  async set(key: RedisIndexKey, value: V): Promise<this> {
    await this.#map.set(key, checkValue(value, 'set'));
    return this;
  }

  /** Whether `key` is there. */
  has(key: RedisIndexKey): Promise<boolean> {
    return this.#map.has(key);
  }

  /** Removes `key`; true when it was there. */
  delete(key: RedisIndexKey): Promise<boolean> {
    return this.#map.delete(key);
  }

  /** How many entries there are. */
  len(): Promise<number> {
    return this.#map.size();
  }

  /** Removes every entry; resolves with how many there were. */
  async clear(): Promise<number> {
    return (await this.script('indexOp', ['clear'])) as number;
  }

  /**
   * Sets `key` to `value` only when it is absent (atomically: of concurrent adds of one key in
   * any number of processes, exactly one resolves true).
   */
  async add(key: RedisIndexKey, value: V): Promise<boolean> {
    const [added] = await this.#add(key, value, 'add');
    return added;
  }

  /** The value of `key`; when it is absent, sets it to `value` first (atomic, as `add`). */
  async setDefault(key: RedisIndexKey, value: V): Promise<V> {
    const [, stored] = await this.#add(key, value, 'setDefault');
    return stored;
  }

  async #add(key: RedisIndexKey, value: V, what: string): Promise<[boolean, V]> {
    const field = resultField(key);
    const encoded = encodeValue(checkValue(value, what));
    const [added, stored] = (await this.script('indexOp', ['add', field, encoded])) as [
      number,
      string,
    ];
    return [added === 1, added === 1 ? value : (decodeValue(stored) as V)];
  }

  /**
   * Removes `key` and returns its value; when it is absent, returns `defaultValue` if one was
   * given. @throws KeyError when the key is absent and no default was given.
   */
  async pop<D = never>(key: RedisIndexKey, ...defaultValue: [D] | []): Promise<V | D> {
    const stored = await this.script('indexOp', ['pop', resultField(key)]);
    if (stored !== null && stored !== undefined) return decodeValue(stored) as V;
    if (defaultValue.length > 0) return defaultValue[0] as D;
    throw new KeyError(key);
  }

  /**
   * Removes and returns the last (`last: false`: the first) entry in insertion order.
   * @throws KeyError when the index is empty.
   */
  async popItem(options: { last?: boolean } = {}): Promise<[RedisIndexKey, V]> {
    const out = (await this.script('indexOp', [
      'popItem',
      (options?.last ?? true) ? 'last' : 'first',
    ])) as [string, string] | null;
    if (out === null) throw new KeyError(undefined, 'RedisIndex.popItem(): the index is empty');
    return [resultKey(out[0]), decodeValue(out[1]) as V];
  }

  /** The keys in insertion order. */
  keys(): AsyncIterableIterator<RedisIndexKey> {
    return this.#map.keys() as AsyncIterableIterator<RedisIndexKey>;
  }

  /** The values in insertion order. */
  async *values(): AsyncGenerator<V> {
    for await (const [, value] of this.#map.entries()) yield value as V;
  }

  /** `[key, value]` pairs in insertion order. */
  items(): AsyncIterableIterator<[RedisIndexKey, V]> {
    return this.#map.entries() as AsyncIterableIterator<[RedisIndexKey, V]>;
  }

  /** The same as `items()` (Map's name). */
  entries(): AsyncIterableIterator<[RedisIndexKey, V]> {
    return this.items();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<[RedisIndexKey, V]> {
    return this.items();
  }
}

function checkValue<V>(value: V, what: string): V {
  if (value === undefined)
    throw new TypeError(`RedisIndex.${what}(): undefined cannot be stored (use null)`);
  return value;
}
