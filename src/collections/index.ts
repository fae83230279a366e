/**
 * Index: a persistent, ordered Map shared by processes. It is stored as python-diskcache stores
 * its Index - plain keys and values of a Cache with eviction policy 'none', in insertion order
 * (rowid) - so Python's `diskcache.Index(directory)` opens the same directory. Every operation is
 * one Cache call or one Cache transaction; this file runs no SQL and uses only Cache's public
 * methods. (The persistent Map, not a barrel: the package's one barrel is src/index.ts.)
 */
import { type AsyncMethods, asyncView } from '../cache/async-view.js';
import type { Cache } from '../cache/cache.js';
import { checkBoolean } from '../cache/checks.js';
import { describeValue, KeyError } from '../cache/errors.js';
import type { Memoized } from '../cache/memoize.js';
import type { Key, MemoizeOptions, QueueOptions } from '../cache/types.js';
import { adopt, PersistentCollection } from './persistent-collection.js';

/** Options of `Index.memoize`: an Index never expires entries, so there is no `expire` or `tag`. */
export type IndexMemoizeOptions = Pick<MemoizeOptions, 'name' | 'typed' | 'ignore'>;

/** Options of `Index.push` and `Index.pull`: the queue's prefix and end. */
export type IndexQueueOptions = Pick<QueueOptions, 'prefix' | 'side'>;

const RETRY = { retry: true } as const;

/**
 * A persistent `Map` in a directory, shared safely by any number of processes, in insertion
 * order: overwriting a key keeps its position, deleting and re-adding it moves it to the end.
 * Every single operation is atomic across processes; `transact(fn)` makes a group of them atomic.
 *
 * Keys are compared by value, not identity (they are stored serialized, as in every Cache): two
 * equal Buffers or deep-equal arrays are the same key, and a key reads back as a new object.
 * Integral bigints within 64 bits are stored as SQLite integers and read back as numbers when they
 * are safe integers (`5n` reads back as `5`). Values read back as fresh copies (structured clone);
 * `undefined` cannot be stored (`get` returns it for "absent").
 *
 * Not guaranteed: `keys()`, `values()`, `entries()` and `forEach` read in pages without a lock.
 * They see the entries that exist when they start (entries added later are not visited, unlike a
 * `Map`) and skip entries removed meanwhile.
 */
/** The methods of `index.async` (iteration and `memoize` stay synchronous). */
const ASYNC_METHODS = [
  'get',
  'set',
  'has',
  'delete',
  'clear',
  'setDefault',
  'pop',
  'popItem',
  'peekItem',
  'push',
  'pull',
  'transact',
] as const;

/** `index.async`: the Index's methods returning promises (see `Cache.async`). */
export type AsyncIndex<K extends Key, V> = AsyncMethods<
  Index<K, V>,
  (typeof ASYNC_METHODS)[number]
>;

export class Index<K extends Key = Key, V = unknown>
  extends PersistentCollection
  implements Map<K, V>
{
  #async: AsyncIndex<K, V> | undefined;

  /**
   * Opens (creating if needed) the index stored in `directory` (with no directory, a new temporary
   * one) and sets `entries` into it, in one transaction.
   * @throws TypeError when `entries` is not an iterable of `[key, value]` pairs.
   */
  constructor(directory?: string, entries?: Iterable<readonly [K, V]> | null) {
    if (
      entries !== undefined &&
      entries !== null &&
      typeof (entries as Iterable<unknown>)[Symbol.iterator] !== 'function'
    ) {
      throw new TypeError(
        `Index entries must be an iterable of [key, value] pairs, got ${describeValue(entries)}`,
      );
    }
    super(directory);
    if (entries !== undefined && entries !== null) this.#setAll('Index entries', entries);
  }

  /** An index stored in an open cache (which stays open when the index is closed). */
  static fromCache<K extends Key = Key, V = unknown>(cache: Cache): Index<K, V> {
    return adopt(cache, 'Index.fromCache', () => new Index<K, V>(undefined));
  }

  #setAll(what: string, entries: Iterable<readonly [K, V]>): void {
    const pairs = Array.from(entries, (pair) => {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new TypeError(`${what} must be [key, value] pairs, got ${describeValue(pair)}`);
      return pair;
    });
    this.transact(() => {
      for (const [key, value] of pairs) this.cache.set(key, value, RETRY);
    });
  }

  // ---- Map ------------------------------------------------------------------------------------

  /** The number of entries. */
  /**
   * The same methods returning promises, for servers: a busy write lock is waited for with async
   * pauses (never blocking the event loop) up to the cache's `timeout`, then `Timeout`.
   */
  get async(): AsyncIndex<K, V> {
    this.#async ??= asyncView(this as Index<K, V>, ASYNC_METHODS, {
      timeout: () => this.cache.timeout,
      name: () => this.cache.directory,
      group: {
        methods: ['set', 'delete', 'pop', 'setDefault', 'push', 'pull'],
        commit: (ops) => this.cache.groupCommit(ops),
      },
    });
    return this.#async;
  }

  get size(): number {
    return this.cache.size;
  }

  get [Symbol.toStringTag](): string {
    return 'Index';
  }

  /** The value of `key`, or `undefined` when it is absent. */
  get(key: K): V | undefined {
    return this.cache.get<V>(key, RETRY);
  }

  /** Sets `key` to `value` (an existing key keeps its position) and returns this index. */
  set(key: K, value: V): this {
    this.cache.set(key, value, RETRY);
    return this;
  }

  /** Whether `key` is present. */
  has(key: K): boolean {
    return this.cache.has(key);
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: K): boolean {
    return this.cache.delete(key, RETRY);
  }

  /** Removes every entry, in one transaction. */
  clear(): void {
    this.transact(() => this.cache.clear(RETRY));
  }

  /** The keys in insertion order. */
  *keys(): MapIterator<K> {
    for (const key of this.cache.keys()) yield key as K;
    return undefined;
  }

  /** The values in insertion order. */
  *values(): MapIterator<V> {
    for (const [, value] of this.cache.entries<V>()) yield value;
    return undefined;
  }

  /** The `[key, value]` pairs in insertion order. */
  *entries(): MapIterator<[K, V]> {
    for (const entry of this.cache.entries<V>()) yield entry as [K, V];
    return undefined;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  /** Calls `callback(value, key, index)` for every entry in insertion order. */
  forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    if (typeof callback !== 'function')
      throw new TypeError(
        `Index.forEach(callback): callback must be a function, got ${describeValue(callback)}`,
      );
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  // ---- beyond Map (diskcache's Index) ---------------------------------------------------------

  /**
   * The value of `key`; when it is absent, sets it to `value` first. Atomic: of concurrent calls
   * for one key in many processes, all return the value of the one that set it.
   */
  setDefault(key: K, value: V): V {
    return this.transact(() => {
      const current = this.cache.get<V>(key);
      if (current !== undefined) return current;
      this.cache.set(key, value, RETRY);
      return value;
    });
  }

  /**
   * Removes `key` and returns its value; when it is absent, returns `defaultValue` if one was
   * given. @throws KeyError when the key is absent and no default was given.
   */
  pop(key: K): V;
  pop<D>(key: K, defaultValue: D): V | D;
  pop<D>(key: K, ...defaultValue: [D] | []): V | D {
    const entry = this.cache.popEntry<V>(key, RETRY);
    if (entry !== undefined) return entry.value;
    if (defaultValue.length > 0) return defaultValue[0] as D;
    throw new KeyError(key);
  }

  /**
   * Removes and returns the last (`last: false`: the first) entry in insertion order, in one
   * transaction. @throws KeyError when the index is empty.
   */
  popItem(options: { last?: boolean } = {}): [K, V] {
    return this.transact(() => {
      const last = checkBoolean('popItem({last})', options.last ?? true);
      const entry = this.cache.peekItem<V>({ last, retry: true });
      if (entry === undefined) throw new KeyError(undefined, 'Index.popItem(): the index is empty');
      this.cache.delete(entry.key, RETRY);
      return [entry.key as K, entry.value];
    });
  }

  /** The last (`last: false`: the first) entry in insertion order, or `undefined` when empty. */
  peekItem(options: { last?: boolean } = {}): [K, V] | undefined {
    const last = checkBoolean('peekItem({last})', options.last ?? true);
    const entry = this.cache.peekItem<V>({ last, retry: true });
    return entry === undefined ? undefined : [entry.key as K, entry.value];
  }

  /**
   * Pushes `value` onto a queue kept in the index (Cache.push) and returns its new key: an integer
   * from 500000000000000 without a prefix, `prefix-500000000000000` with one.
   */
  push(value: V, options: IndexQueueOptions = {}): string | number | bigint {
    return this.cache.push(value, {
      prefix: options.prefix,
      side: options.side ?? 'back',
      retry: true,
    });
  }

  /** Removes and returns `[key, value]` from one end (default: the front) of a queue kept in the index; `undefined` when it is empty. */
  pull(options: IndexQueueOptions = {}): [string | number | bigint, V] | undefined {
    const entry = this.cache.pull<V>({
      prefix: options.prefix,
      side: options.side ?? 'front',
      retry: true,
    });
    return entry === undefined ? undefined : [entry.key as string | number | bigint, entry.value];
  }

  /**
   * A decorator that keeps a function's results in this index, keyed by its name and arguments
   * (`Cache.memoize` without expiry: results stay until deleted).
   */
  memoize(
    options: IndexMemoizeOptions = {},
  ): <F extends (...args: never[]) => unknown>(fn: F) => Memoized<F> {
    if (options === null || typeof options !== 'object')
      return this.cache.memoize(options as never); // throws the Cache's message
    const { name, typed, ignore } = options;
    return this.cache.memoize({ name, typed, ignore });
  }
}
