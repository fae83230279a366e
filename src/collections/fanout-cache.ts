/**
 * FanoutCache: a Cache split into shards (independent SQLite databases in `000`, `001`, ...) so
 * that writers to different shards never wait for each other, in python-diskcache's layout: a key
 * lives in shard `disk.hash(key) % shards`, so Python's `diskcache.FanoutCache` opens the same data.
 *
 * Like diskcache, it gives up fast instead of waiting (timeout 10 ms) and never throws `Timeout`
 * from a single-key operation: writes report `false`, reads the default. It delegates every
 * operation to a shard's `Cache`; it must not re-implement any of them (no SQL here).
 * It lives in collections/ because `deque(name)` and `index(name)` need the collections.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { retryWhileBusy } from '../cache/async-view.js';
import { type AsyncCache, Cache, openCache } from '../cache/cache.js';
import type { Seconds } from '../cache/checks.js';
import { Disk } from '../cache/disk.js';
import { isBusy, Timeout } from '../cache/errors.js';
import { checkMemoizeOptions, type Memoized, memoizeFunction } from '../cache/memoize.js';
import { DEFAULT_SETTINGS, type SettingValue } from '../cache/schema.js';
import type {
  CacheOptions,
  CheckWarning,
  DiskClass,
  Entry,
  GetOptions,
  Key,
  MemoizeOptions,
  SetOptions,
  Tag,
} from '../cache/types.js';
import { Deque, type DequeOptions } from './deque.js';
import { Index } from './index.js';

/**
 * Options of `new FanoutCache(directory, options)`: those of `Cache` plus `shards`, with a short
 * `timeout`. Every setting is applied to every shard, except `sizeLimit`, which is divided among them.
 */
export interface FanoutCacheOptions extends CacheOptions {
  /**
   * Number of shards (subdirectories `000`, `001`, ...). Not persisted: open a directory with the
   * number of shards it was created with, or keys are looked for in the wrong shard. @default 8
   */
  readonly shards?: number;
  /**
   * Seconds a shard waits for its write lock before the operation gives up (a write returns
   * false, a read the default); `retry: true` on an operation waits instead. @default 0.010
   */
  readonly timeout?: Seconds;
  /**
   * Soft limit of the total `volume()` in bytes; each shard gets `sizeLimit / shards` (stored as a
   * float, as diskcache does). Like diskcache, every opening writes it: opening without `sizeLimit`
   * resets the limit to the default. @default 1073741824 (1 GiB)
   */
  readonly sizeLimit?: number;
}

/**
 * `fanout.async`: FanoutCache's methods returning promises. Single-key operations wait for a busy
 * shard with async pauses up to `timeout` (10 ms), then give up as the synchronous ones do
 * (`false`, the default, `null`); batch operations wait as long as it takes.
 */
export interface AsyncFanoutCache {
  get<V = unknown, D = undefined>(key: unknown, options?: GetOptions<D>): Promise<V | D>;
  getEntry<V = unknown>(key: unknown, options?: RetryOption): Promise<Entry<V> | undefined>;
  has(key: unknown): Promise<boolean>;
  set(key: unknown, value: unknown, options?: SetOptions): Promise<boolean>;
  add(key: unknown, value: unknown, options?: SetOptions): Promise<boolean>;
  incr(
    key: unknown,
    delta?: number | bigint,
    options?: IncrOptions,
  ): Promise<number | bigint | null>;
  decr(
    key: unknown,
    delta?: number | bigint,
    options?: IncrOptions,
  ): Promise<number | bigint | null>;
  touch(key: unknown, options?: { expire?: Seconds | null; retry?: boolean }): Promise<boolean>;
  delete(key: unknown, options?: RetryOption): Promise<boolean>;
  pop<V = unknown, D = undefined>(
    key: unknown,
    options?: { default?: D; retry?: boolean },
  ): Promise<V | D>;
  popEntry<V = unknown>(key: unknown, options?: RetryOption): Promise<Entry<V> | undefined>;
  expire(now?: number): Promise<number>;
  evict(tag: Tag): Promise<number>;
  cull(): Promise<number>;
  clear(): Promise<number>;
  volume(): Promise<number>;
  stats(options?: { enable?: boolean; reset?: boolean }): Promise<{ hits: number; misses: number }>;
  transact<T>(fn: () => T): Promise<T>;
}

/** Options of the single-key operations that may give up on a busy shard. */
interface RetryOption {
  /** Wait for the shard's write lock as long as it takes instead of giving up. @default false */
  readonly retry?: boolean;
}

/** Options of `incr` / `decr`. */
interface IncrOptions extends RetryOption {
  /** Starting value of a missing or expired key; `null`: throw `KeyError` instead. @default 0 */
  readonly default?: number | bigint | null;
}

function shardName(index: number): string {
  return String(index).padStart(3, '0');
}

/** Splits a sub-collection name on '/', refusing names that would leave its folder. */
function nameParts(kind: string, name: unknown): string[] {
  if (typeof name !== 'string')
    throw new TypeError(`${kind}(name): name must be a string, got ${typeof name}`);
  const parts = name.split('/');
  for (const part of parts) {
    if (
      part === '' ||
      part === '.' ||
      part === '..' ||
      part.includes('\\') ||
      part.includes('\0')
    ) {
      throw new RangeError(
        `${kind}(name): name must be '/'-separated non-empty segments other than '.' and '..', without '\\' or NUL; got ${JSON.stringify(name)}`,
      );
    }
  }
  return parts;
}

/**
 * A cache sharded over several SQLite databases in one directory, shared safely by any number of
 * processes. Same methods as `Cache` except the queue methods (`push`, `pull`, `peek`,
 * `peekItem`, `iterKeys`), with diskcache's timeout policy: when a shard's write lock cannot be
 * had within `timeout`, `set`/`add`/`touch`/`delete`/`setStream` return false, `incr`/`decr`
 * return null, `get`/`pop` return the default and `getEntry`/`popEntry` undefined; the batch
 * removers (`expire`, `evict`, `cull`, `clear`) keep retrying the busy shard. Pass `retry: true`
 * to wait instead of giving up.
 *
 * Not guaranteed: a write that returns false was not stored; `size` and `keys()` include expired
 * entries not yet culled; `sizeLimit` is soft and enforced per shard.
 */
export class FanoutCache implements Disposable {
  readonly #directory: string;
  readonly #shards: readonly Cache[];
  readonly #diskClass: DiskClass;
  readonly #caches = new Map<string, Cache>();
  #async: AsyncFanoutCache | undefined;
  readonly #deques = new Map<string, Deque>();
  readonly #indexes = new Map<string, Index>();
  #closed = false;

  /**
   * Opens (creating if needed) the sharded cache in `directory`; with no directory, a new
   * temporary one.
   * @throws TypeError / RangeError for invalid options; DatabaseError when a shard cannot be opened.
   */
  constructor(directory?: string, options: FanoutCacheOptions = {}) {
    if (directory !== undefined && directory !== null && typeof directory !== 'string') {
      throw new TypeError(`directory must be a string path, got ${typeof directory}`);
    }
    if (options === null || typeof options !== 'object')
      throw new TypeError(`options must be an object, got ${String(options)}`);
    const {
      shards = 8,
      timeout = 0.01,
      sizeLimit = Number(DEFAULT_SETTINGS.size_limit),
      ...cacheOptions
    } = options;
    if (typeof shards !== 'number' || Number.isNaN(shards))
      throw new TypeError(`shards must be a number, got ${String(shards)}`);
    if (!Number.isInteger(shards) || shards < 1)
      throw new RangeError(`shards must be a positive integer, got ${shards}`);
    if (typeof sizeLimit !== 'number' || Number.isNaN(sizeLimit))
      throw new TypeError(`sizeLimit must be a number, got ${String(sizeLimit)}`);
    if (sizeLimit < 0) throw new RangeError(`sizeLimit must be at least 0, got ${sizeLimit}`);
    this.#directory = path.resolve(directory ?? mkdtempSync(path.join(tmpdir(), 'diskcache-')));
    this.#diskClass = options.disk ?? Disk;
    const shardOptions: CacheOptions = {
      ...cacheOptions,
      timeout,
      sizeLimit: sizeLimit / shards,
    };
    // Each shard's share is stored as a float, as Python's FanoutCache stores it; opening waits
    // for the lock as long as diskcache's does (60 s): the short timeout is for operations,
    // which can give up (return false), while an open cannot.
    const internal = { realSettings: ['size_limit'], openTimeout: Math.max(timeout, 60) };
    const opened: Cache[] = [];
    try {
      for (let i = 0; i < shards; i++)
        opened.push(openCache(path.join(this.#directory, shardName(i)), shardOptions, internal));
    } catch (error) {
      for (const shard of opened) shard.close();
      throw error;
    }
    this.#shards = opened;
  }

  // ---- routing and the timeout policy ---------------------------------------------------------

  /** The shard that holds `key`: diskcache's `hash(key) % shards`, so Python finds it too. */
  #shardFor(key: unknown): Cache {
    const shards = this.#shards;
    return shards[shards[0]!.disk.hash(key) % shards.length]!;
  }

  /** Runs `fn`; a shard that stayed locked past the timeout gives `fallback` instead of an error. */
  #swallowTimeout<T, F>(fn: () => T, fallback: F): T | F {
    try {
      return fn();
    } catch (error) {
      if (error instanceof Timeout || isBusy(error)) return fallback;
      throw error;
    }
  }

  /** Runs a batch remover on every shard, retrying a shard that times out; sums the counts. */
  #removeFromEveryShard(remove: (shard: Cache) => number): number {
    let total = 0;
    for (const shard of this.#shards) {
      for (;;) {
        try {
          total += remove(shard);
          break;
        } catch (error) {
          if (!(error instanceof Timeout)) throw error;
          total += error.count; // removed before the timeout; the retry removes the rest
        }
      }
    }
    return total;
  }

  // ---- async ----------------------------------------------------------------------------------

  /** The same methods returning promises, for servers (see `AsyncFanoutCache`). */
  get async(): AsyncFanoutCache {
    this.#async ??= this.#makeAsync();
    return this.#async;
  }

  #makeAsync(): AsyncFanoutCache {
    const shardOf = (key: unknown): AsyncCache => this.#shardFor(key).async;
    /** A busy shard past the timeout gives `fallback`, as the synchronous methods do. */
    const orGiveUp = async <T, F>(run: () => Promise<T>, fallback: F): Promise<T | F> => {
      try {
        return await run();
      } catch (error) {
        if (error instanceof Timeout) return fallback;
        throw error;
      }
    };
    const everyShard = async (run: (shard: AsyncCache) => Promise<number>): Promise<number> => {
      let total = 0;
      for (const shard of this.#shards) total += await run(shard.async);
      return total;
    };
    const view: AsyncFanoutCache = {
      get: (key, options) =>
        orGiveUp(() => shardOf(key).get(key, options), options?.default) as never,
      getEntry: (key, options) =>
        orGiveUp(() => shardOf(key).getEntry(key, options), undefined) as never,
      has: (key) => shardOf(key).has(key),
      set: (key, value, options) => orGiveUp(() => shardOf(key).set(key, value, options), false),
      add: (key, value, options) => orGiveUp(() => shardOf(key).add(key, value, options), false),
      incr: (key, delta, options) => orGiveUp(() => shardOf(key).incr(key, delta, options), null),
      decr: (key, delta, options) => orGiveUp(() => shardOf(key).decr(key, delta, options), null),
      touch: (key, options) => orGiveUp(() => shardOf(key).touch(key, options), false),
      delete: (key, options) => orGiveUp(() => shardOf(key).delete(key, options), false),
      pop: (key, options) =>
        orGiveUp(() => shardOf(key).pop(key, options), options?.default) as never,
      popEntry: (key, options) =>
        orGiveUp(() => shardOf(key).popEntry(key, options), undefined) as never,
      expire: (now) => everyShard((shard) => shard.expire(now, { retry: true })),
      evict: (tag) => everyShard((shard) => shard.evict(tag, { retry: true })),
      cull: () => everyShard((shard) => shard.cull({ retry: true })),
      clear: () => everyShard((shard) => shard.clear({ retry: true })),
      volume: () => everyShard((shard) => shard.volume()),
      stats: async (options) => {
        let hits = 0;
        let misses = 0;
        for (const shard of this.#shards) {
          const counts = (await shard.async.stats(options)) as { hits: number; misses: number };
          hits += counts.hits;
          misses += counts.misses;
        }
        return { hits, misses };
      },
      transact: (fn) =>
        retryWhileBusy(() => this.transact(fn), this.timeout, true, this.#directory),
    };
    return Object.freeze(view);
  }

  // ---- single keys ----------------------------------------------------------------------------

  /** Stores `value` under `key`; false when the shard stayed locked (nothing was stored). */
  set(key: unknown, value: unknown, options?: SetOptions): boolean {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.set(key, value, options), false);
  }

  /** Streams `readable` into a value file under `key`; false when the shard stayed locked. */
  async setStream(
    key: unknown,
    readable: NodeJS.ReadableStream | Readable,
    options?: SetOptions,
  ): Promise<boolean> {
    const shard = this.#shardFor(key);
    try {
      return await shard.setStream(key, readable, options);
    } catch (error) {
      if (error instanceof Timeout || isBusy(error)) return false;
      throw error;
    }
  }

  /**
   * Stores `value` only if `key` is absent or expired; atomic across processes. False when the
   * key is present or when the shard stayed locked.
   */
  add(key: unknown, value: unknown, options?: SetOptions): boolean {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.add(key, value, options), false);
  }

  /**
   * The value of `key`, or `options.default` when it is missing, expired, or its shard stayed
   * locked (only gets that take the lock can time out: with statistics or an LRU/LFU policy).
   */
  get<V = unknown, D = undefined>(key: unknown, options?: GetOptions<D>): V | D {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.get<V, D>(key, options), options?.default as D);
  }

  /** The entry of `key` with its expiry time and tag; undefined when missing or the shard stayed locked. */
  getEntry<V = unknown>(key: unknown, options?: RetryOption): Entry<V> | undefined {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.getEntry<V>(key, options), undefined);
  }

  /** Whether `key` is present and not expired. Takes no lock. */
  has(key: unknown): boolean {
    return this.#shardFor(key).has(key);
  }

  /**
   * A stream of the value of `key` (bytes; strings as UTF-8). Takes no lock.
   * @throws KeyError when the key is missing or expired.
   */
  read(key: unknown): Readable {
    return this.#shardFor(key).read(key);
  }

  /**
   * Adds `delta` to the number under `key` and returns the new value, or null when the shard
   * stayed locked (nothing was added). A missing key starts from `default` (0); `default: null`
   * makes a missing key throw `KeyError`.
   */
  incr(key: unknown, delta: number | bigint = 1, options?: IncrOptions): number | bigint | null {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.incr(key, delta, options), null);
  }

  /** `incr(key, -delta, options)`: the new value, or null when the shard stayed locked. */
  decr(key: unknown, delta: number | bigint = 1, options?: IncrOptions): number | bigint | null {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.decr(key, delta, options), null);
  }

  /** Removes `key` and returns its value, or `options.default` when missing or the shard stayed locked. */
  pop<V = unknown, D = undefined>(key: unknown, options?: { default?: D; retry?: boolean }): V | D {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.pop<V, D>(key, options), options?.default as D);
  }

  /** Removes `key` and returns its entry; undefined when missing or the shard stayed locked. */
  popEntry<V = unknown>(key: unknown, options?: RetryOption): Entry<V> | undefined {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.popEntry<V>(key, options), undefined);
  }

  /** Deletes a live key; false when it was not there or the shard stayed locked. */
  delete(key: unknown, options?: RetryOption): boolean {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.delete(key, options), false);
  }

  /** Sets the expiry of a live key (`expire` seconds from now; undefined: never); false when missing or locked out. */
  touch(key: unknown, options?: { expire?: number | null; retry?: boolean }): boolean {
    const shard = this.#shardFor(key);
    return this.#swallowTimeout(() => shard.touch(key, options), false);
  }

  // ---- every shard ----------------------------------------------------------------------------

  /** Removes every entry that expired before `now` (epoch seconds, default now); returns how many. */
  expire(now?: number, options?: RetryOption): number {
    const at = now ?? Date.now() / 1000;
    return this.#removeFromEveryShard((shard) => shard.expire(at, options));
  }

  /** Removes every entry with this tag, live or not; returns how many. */
  evict(tag: Tag, options?: RetryOption): number {
    return this.#removeFromEveryShard((shard) => shard.evict(tag, options));
  }

  /** Removes expired entries, then culls each shard to its share of `sizeLimit`; returns how many. */
  cull(options?: RetryOption): number {
    return this.#removeFromEveryShard((shard) => shard.cull(options));
  }

  /** Removes every entry; returns how many. The directories and databases stay. */
  clear(options?: RetryOption): number {
    return this.#removeFromEveryShard((shard) => shard.clear(options));
  }

  /**
   * Checks every shard (see `Cache.check`) and returns all warnings, shard 0 first. Unlike the
   * other methods it throws `Timeout` when a shard stays locked and `retry` is not set, as diskcache does.
   */
  check(options?: { fix?: boolean; retry?: boolean }): CheckWarning[] {
    return this.#shards.flatMap((shard) => shard.check(options));
  }

  /** Hit and miss counts summed over the shards; `enable` and `reset` apply to every shard. */
  stats(options?: { enable?: boolean; reset?: boolean }): { hits: number; misses: number } {
    let hits = 0;
    let misses = 0;
    for (const shard of this.#shards) {
      const counts = shard.stats(options);
      hits += counts.hits;
      misses += counts.misses;
    }
    return { hits, misses };
  }

  /** Bytes on disk, summed over the shards (sub-collections are not counted). */
  volume(): number {
    return this.#shards.reduce((total, shard) => total + shard.volume(), 0);
  }

  /** Number of entries in all shards, including expired ones not yet culled. */
  get size(): number {
    return this.#shards.reduce((total, shard) => total + shard.size, 0);
  }

  /**
   * Keys of shard 0 in insertion order, then shard 1, ... (`reverse`: the last shard first, each
   * newest first). Includes expired keys not yet culled.
   */
  *keys(options?: { reverse?: boolean }): Generator<unknown> {
    const shards = options?.reverse ? [...this.#shards].reverse() : this.#shards;
    for (const shard of shards) yield* shard.keys(options);
  }

  [Symbol.iterator](): Generator<unknown> {
    return this.keys();
  }

  /** `[key, value]` pairs of live entries, shard by shard, each in insertion order. */
  *entries<V = unknown>(): Generator<[unknown, V]> {
    for (const shard of this.#shards) yield* shard.entries<V>();
  }

  /**
   * Runs `fn` holding the write lock of every shard, taken in shard order (waiting as long as
   * it takes), and returns its result: everything inside is atomic for other processes. This
   * stops every writer of the whole cache for the duration, which defeats the point of
   * sharding: keep `fn` short, or use a `Cache` when transactions are frequent. Re-entrant;
   * `fn` must be synchronous.
   */
  transact<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new TypeError('transact(fn): fn must be a function');
    const shards = this.#shards;
    const holdFrom = (index: number): T =>
      index === shards.length
        ? fn()
        : shards[index]!.transact(() => holdFrom(index + 1), { retry: true });
    return holdFrom(0);
  }

  /**
   * A decorator that keeps a function's results in this cache (see `Cache.memoize`). It reads and
   * writes through this object's `get`/`set` with `retry: true`, as diskcache's does, so a busy
   * shard delays a call rather than turning it into a miss.
   */
  memoize(
    options?: MemoizeOptions,
  ): <F extends (...args: never[]) => unknown>(fn: F) => Memoized<F> {
    const checked = checkMemoizeOptions(options);
    return (fn) => memoizeFunction(this, checked, fn as never) as never;
  }

  /**
   * Reads a setting (with no value) or sets it (with one) on every shard, waiting for busy
   * shards; returns the last shard's value. The value is not divided: `reset('size_limit', n)`
   * gives every shard the limit n.
   */
  reset(setting: string, value?: SettingValue | boolean): SettingValue {
    let result: SettingValue = null;
    for (const shard of this.#shards) {
      for (;;) {
        try {
          result = shard.reset(setting, value);
          break;
        } catch (error) {
          if (!(error instanceof Timeout || isBusy(error))) throw error;
        }
      }
    }
    return result;
  }

  // ---- sub-collections ------------------------------------------------------------------------

  /**
   * The `Cache` named `name` in `<directory>/cache/<name>` ('/' in the name makes subfolders),
   * opened on first use with this cache's Disk and `options`, then reused; closed by `close()`.
   */
  cache(name: string, options?: CacheOptions): Cache {
    const parts = nameParts('cache', name);
    let cache = this.#caches.get(name);
    if (cache === undefined) {
      cache = new Cache(path.join(this.#directory, 'cache', ...parts), {
        disk: this.#diskClass,
        ...options,
      });
      this.#caches.set(name, cache);
    }
    return cache;
  }

  /** The Cache of a Deque or Index sub-collection: this cache's Disk, never evicting (as diskcache 5.6). */
  #collectionCache(kind: 'deque' | 'index', parts: string[]): Cache {
    return new Cache(path.join(this.#directory, kind, ...parts), {
      disk: this.#diskClass,
      evictionPolicy: 'none',
    });
  }

  /**
   * The `Deque` named `name` in `<directory>/deque/<name>`, opened on first use, then reused
   * (a later `maxlen` is ignored: set `deque.maxlen` instead); closed by `close()`.
   */
  deque<T = unknown>(name: string, options?: DequeOptions): Deque<T> {
    const parts = nameParts('deque', name);
    let deque = this.#deques.get(name);
    if (deque === undefined) {
      const cache = this.#collectionCache('deque', parts);
      try {
        deque = Deque.fromCache(cache, options);
      } catch (error) {
        cache.close();
        throw error;
      }
      this.#deques.set(name, deque);
    }
    return deque as Deque<T>;
  }

  /** The `Index` named `name` in `<directory>/index/<name>`, opened on first use, then reused; closed by `close()`. */
  index<K extends Key = Key, V = unknown>(name: string): Index<K, V> {
    const parts = nameParts('index', name);
    let index = this.#indexes.get(name);
    if (index === undefined) {
      index = Index.fromCache(this.#collectionCache('index', parts));
      this.#indexes.set(name, index);
    }
    return index as unknown as Index<K, V>;
  }

  // ---- lifecycle and properties ---------------------------------------------------------------

  /** The cache directory (absolute). */
  get directory(): string {
    return this.#directory;
  }

  /** Seconds each shard waits for its write lock. */
  get timeout(): number {
    return this.#shards[0]!.timeout;
  }

  /** The serializer (shard 0's; every shard has the same kind). */
  get disk(): Disk {
    return this.#shards[0]!.disk;
  }

  /** Shard 0's settings, under diskcache's names (so `size_limit` is the per-shard limit). */
  get settings(): Readonly<Record<string, SettingValue>> {
    return this.#shards[0]!.settings;
  }

  /** Number of shards. */
  get shardCount(): number {
    return this.#shards.length;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every shard and every sub-collection opened through this object. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const shard of this.#shards) shard.close();
    for (const cache of this.#caches.values()) cache.close();
    // A collection made by fromCache leaves its cache open: close both.
    for (const collection of [...this.#deques.values(), ...this.#indexes.values()]) {
      collection.close();
      collection.cache.close();
    }
    this.#caches.clear();
    this.#deques.clear();
    this.#indexes.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
