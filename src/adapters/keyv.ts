/**
 * KeyvDiskcache: a Keyv storage adapter (keyv 5's `KeyvStoreAdapter` shape) over a `Cache`, so
 * that `new Keyv({ store })`, cache-manager's `createCache({ stores: [keyv] })` and NestJS's
 * CacheModule persist to a diskcache directory shared by every process that opens it.
 *
 * Keyv speaks milliseconds, the Cache seconds: TTLs are divided by 1000 here and nowhere else.
 * Namespaces are key prefixes (`namespace:key`, as Keyv writes them) plus the entry's tag, so that
 * `clear()` of one namespace is `cache.evict(namespace)` and leaves the other namespaces alone.
 * This module must not import keyv at runtime (types only): the package has no dependency on it.
 * It lives on the `node-diskcache/keyv` subpath and is not exported from the package root.
 */
import { EventEmitter } from 'node:events';
import { Cache } from '../cache/cache.js';
import { describeValue } from '../cache/errors.js';
import type { CacheOptions } from '../cache/types.js';

/** Options of `new KeyvDiskcache(directory, options)`: the Cache's options plus a namespace. */
export interface KeyvDiskcacheOptions extends CacheOptions {
  /**
   * The namespace to start with. Keyv overwrites it with its own (`'keyv'` by default) when the
   * adapter is given to `new Keyv({ store })`, so this matters only when the adapter is used alone.
   * @default undefined (no namespace)
   */
  readonly namespace?: string;
}

/** One entry of `setMany`, as Keyv passes it: `ttl` in milliseconds. */
export interface KeyvDiskcacheEntry {
  readonly key: string;
  readonly value: unknown;
  readonly ttl?: number;
}

/** Keys are scanned in pages of this many before the iterator lets the event loop run. */
const ITERATOR_YIELD_EVERY = 1000;

/** Keyv's TTL (milliseconds; `undefined`, `0` or `Infinity`: never) as the Cache's `expire` (seconds). */
function expireOf(ttl: number | undefined | null): number | undefined {
  if (ttl === undefined || ttl === null || ttl === 0 || ttl === Number.POSITIVE_INFINITY)
    return undefined;
  if (typeof ttl !== 'number' || !(ttl > 0))
    throw new RangeError(
      `ttl must be a positive number of milliseconds (or undefined), got ${describeValue(ttl)}`,
    );
  return ttl / 1000;
}

export class KeyvDiskcache extends EventEmitter {
  /**
   * Keyv reads this to decide whether the store is iterable (`dialect` in its list of SQL-like
   * adapters) and cache-manager and Keyv treat it as opaque otherwise.
   */
  readonly opts: { readonly dialect: 'sqlite'; readonly url: string; readonly directory: string };
  /** Set by Keyv (`'keyv'` unless Keyv was given another). Keys are stored as `namespace:key`. */
  namespace: string | undefined;
  readonly #cache: Cache;
  /** Whether the adapter opened the Cache (then `disconnect()` closes it) or was given one. */
  readonly #owned: boolean;

  /**
   * @param directoryOrCache a cache directory (the adapter opens a `Cache` there and closes it on
   *   `disconnect()`), or an open `Cache` (left open on `disconnect()`: its owner closes it).
   * @param options the Cache's options when a directory is given, and a starting `namespace`.
   */
  constructor(directoryOrCache: string | Cache, options: KeyvDiskcacheOptions = {}) {
    super();
    if (options === null || typeof options !== 'object')
      throw new TypeError(`options must be an object, got ${describeValue(options)}`);
    const { namespace, ...cacheOptions } = options;
    if (namespace !== undefined && typeof namespace !== 'string')
      throw new TypeError(`namespace must be a string, got ${describeValue(namespace)}`);
    if (directoryOrCache instanceof Cache) {
      if (Object.keys(cacheOptions).length > 0)
        throw new TypeError(
          `options ${Object.keys(cacheOptions).join(', ')} apply only when a directory is given, ` +
            'not an open Cache',
        );
      this.#cache = directoryOrCache;
      this.#owned = false;
    } else if (typeof directoryOrCache === 'string' && directoryOrCache !== '') {
      this.#cache = new Cache(directoryOrCache, cacheOptions);
      this.#owned = true;
    } else {
      throw new TypeError(
        `directoryOrCache must be a directory path or a Cache, got ${describeValue(directoryOrCache)}`,
      );
    }
    this.namespace = namespace;
    this.opts = { dialect: 'sqlite', url: this.#cache.directory, directory: this.#cache.directory };
  }

  /** The Cache underneath (for `stats()`, `volume()`, `expire()` and the like). */
  get cache(): Cache {
    return this.#cache;
  }

  /** The stored value (what Keyv serialized), or `undefined` when absent or expired. */
  async get<Value>(key: string): Promise<Value | undefined> {
    return (await this.#cache.async.get(this.#key(key))) as Value | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    return keys.map((key) => this.#cache.get<Value>(this.#key(key)));
  }

  /** Stores `value` as received; `ttl` in milliseconds (`undefined` or `0`: never expires). */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.#cache.async.set(this.#key(key), value, {
      expire: expireOf(ttl),
      tag: this.#tag(),
    });
  }

  /**
   * All entries in one transaction: all are stored, or none (the promise rejects). Resolves with
   * nothing, as keyv 5's interface declares (so `keyv.setMany()` resolves with `undefined`).
   */
  async setMany(entries: KeyvDiskcacheEntry[]): Promise<void> {
    const tag = this.#tag();
    const rows = entries.map((entry) => ({
      key: this.#key(entry.key),
      value: entry.value,
      expire: expireOf(entry.ttl),
    }));
    await this.#cache.async.transact(() => {
      for (const row of rows) this.#cache.set(row.key, row.value, { expire: row.expire, tag });
    });
  }

  async has(key: string): Promise<boolean> {
    return this.#cache.has(this.#key(key));
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return keys.map((key) => this.#cache.has(this.#key(key)));
  }

  /** `true` when the key was present. */
  async delete(key: string): Promise<boolean> {
    return this.#cache.async.delete(this.#key(key));
  }

  /** `true` when every key was present (as Keyv's own fallback answers); one transaction. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const deleted = await this.#cache.async.transact(() =>
      keys.map((key) => this.#cache.delete(this.#key(key))),
    );
    return deleted.every(Boolean);
  }

  /** Removes this namespace's entries (`cache.evict(namespace)`), or every entry without one. */
  async clear(): Promise<void> {
    if (this.namespace) await this.#cache.async.evict(this.namespace);
    else await this.#cache.async.clear();
  }

  /**
   * `[key, value]` of the live entries of `namespace` (all entries without one), in insertion
   * order, with the keys as stored (`namespace:key`: Keyv strips the prefix). Pages through the
   * Cache's keys, so memory and stack stay flat however many entries there are.
   */
  async *iterator<Value>(namespace?: string): AsyncGenerator<[string, Value], void> {
    const prefix = namespace ? `${namespace}:` : undefined;
    let scanned = 0;
    for (const key of this.#cache.keys()) {
      if (++scanned % ITERATOR_YIELD_EVERY === 0) await new Promise(setImmediate);
      if (typeof key !== 'string' || (prefix !== undefined && !key.startsWith(prefix))) continue;
      const value = this.#cache.get<Value>(key);
      // Expired, or deleted since the page of keys was read.
      if (value === undefined) continue;
      yield [key, value];
    }
  }

  /** Closes the Cache if the adapter opened it; a Cache given to the constructor stays open. */
  async disconnect(): Promise<void> {
    if (this.#owned) this.#cache.close();
  }

  /** Keyv prefixes keys itself (`useKeyPrefix`, the default); this covers `useKeyPrefix: false`. */
  #key(key: string): string {
    const namespace = this.namespace;
    if (!namespace || key.startsWith(`${namespace}:`)) return key;
    return `${namespace}:${key}`;
  }

  #tag(): string | null {
    return this.namespace ? this.namespace : null;
  }
}
