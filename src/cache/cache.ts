/**
 * Cache: a persistent, process-safe key-value store in python-diskcache's on-disk format — the
 * engine, as diskcache's core.py is: this file reads and writes entries; its seams live beside it
 * (transaction.ts takes the write lock and manages value files around commits, cull.ts keeps the
 * cache within its limits, cache-queue.ts is push/pull/peek, settings.ts is `reset`, statements.ts
 * holds every SQL statement, schema.ts opens the database, disk.ts serializes).
 *
 * Every method is synchronous (better-sqlite3 is) and atomic across processes. Single-statement
 * operations (get, set of an inline value, delete, pop, touch, push, pull) run as one SQLite
 * statement in autocommit mode; multi-statement ones run inside one `BEGIN IMMEDIATE`
 * transaction. Statements are prepared once per connection; no SQL is built on a hot path.
 * This module must not import from outside src/cache.
 */
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Database from 'better-sqlite3';
import {
  type AsyncMethods,
  asyncView,
  type GroupCommit,
  grouper,
  retryWhileBusy,
} from './async-view.js';
import { CacheQueue } from './cache-queue.js';
import { runCheck } from './check.js';
import { checkBoolean, checkTag, type Seconds } from './checks.js';
import { Culler, type CullSettings } from './cull.js';
import {
  type DbValue,
  Disk,
  intToJs,
  MODE_BINARY,
  MODE_PICKLE,
  MODE_RAW,
  MODE_TEXT,
  type StoredValue,
  Undecodable,
  whyNotWritten,
  writeNewFileAsync,
} from './disk.js';
import { ClosedError, KeyError, storageError, Timeout, UnsupportedValueError } from './errors.js';
import { POLICIES } from './eviction.js';
import { checkMemoizeOptions, type Memoized, memoizeFunction } from './memoize.js';
import { checkReadCacheOption, ReadCache, type ReadCacheValidator } from './read-cache.js';
import { DBNAME, openDatabase, optionsToSettings, type SettingValue } from './schema.js';
import { resetSetting } from './settings.js';
import {
  BATCH,
  type CacheStatements,
  type CullInfoRow,
  type EntryRow,
  prepareStatements,
} from './statements.js';
import { type Settled, Transactor } from './transaction.js';
import type {
  CacheOptions,
  CheckWarning,
  DiskClass,
  Entry,
  EvictionPolicy,
  GetOptions,
  MemoizeOptions,
  QueueOptions,
  SetOptions,
  Tag,
} from './types.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * @internal How the library itself opens a Cache beyond the public options (FanoutCache shards,
 * WorkQueue). Not part of the public API: passed through `openCache`.
 */
export interface InternalOpenOptions {
  /** Settings stored as REAL even when integral (a FanoutCache shard's `size_limit`, as Python). */
  readonly realSettings?: readonly string[];
  /** Seconds to wait for the lock while opening, when it differs from `timeout`. */
  readonly openTimeout?: Seconds;
}

/** Set by `openCache` for the constructor it calls (synchronously) to read. */
let internalOptions: InternalOpenOptions | undefined;

/** @internal Opens a Cache with options the public constructor does not take. */
export function openCache(
  directory: string | undefined,
  options: CacheOptions,
  internal: InternalOpenOptions,
): Cache {
  internalOptions = internal;
  try {
    return new Cache(directory, options);
  } finally {
    internalOptions = undefined;
  }
}

function isMissingFile(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function isThenable(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** The absolute expiry time of an entry written at `now` that expires after `expire` seconds. */
function expireAt(now: number, expire: number | null | undefined): number | null {
  if (expire === undefined || expire === null) return null;
  if (typeof expire !== 'number' || Number.isNaN(expire))
    throw new TypeError(`expire must be a number of seconds, got ${String(expire)}`);
  return now + expire;
}

/** Binds a tag: integral numbers as INTEGER, like Python ints. */
function bindTag(tag: Tag | undefined): DbValue {
  if (tag === undefined) return null;
  checkTag('tag', tag);
  return typeof tag === 'number' && Number.isSafeInteger(tag) ? BigInt(tag) : tag;
}

function readTag(tag: unknown): Tag {
  return typeof tag === 'bigint' ? intToJs(tag) : (tag as Tag);
}

/**
 * Runs a write with RETURNING and gives its first row. `.all()`, never `.get()`: `.get()` stops at
 * the first row, so an autocommit write ends in a reset instead of SQLITE_DONE and SQLite skips its
 * WAL hook - no automatic checkpoint ever runs and the WAL grows without bound.
 */
function returning<R>(
  statement: Database.Statement<unknown[], R>,
  ...params: unknown[]
): R | undefined {
  return statement.all(...params)[0];
}

/** Adds two stored numbers as SQLite/Python would: exact 64-bit integers, else floats. */
function addNumbers(a: unknown, b: number | bigint): number | bigint {
  const integral = (x: unknown) =>
    typeof x === 'bigint' || (typeof x === 'number' && Number.isInteger(x));
  if (integral(a) && integral(b)) {
    const sum = BigInt(a as number | bigint) + BigInt(b);
    if (sum < INT64_MIN || sum > INT64_MAX)
      throw new RangeError('incr: the result does not fit a 64-bit integer');
    return sum;
  }
  return Number(a) + Number(b);
}

/** The checked arguments of a write of one entry (set, add, setStream). */
interface RowWrite {
  readonly dbKey: DbValue;
  readonly raw: number;
  readonly expireTime: number | null;
  readonly tag: DbValue;
  /** Epoch seconds: the store and access time. */
  readonly now: number;
  readonly retry: boolean;
}

/** The single-entry writes of `cache.async` committed in groups (group commit, async-view.ts). */
const GROUPED_METHODS = [
  'set',
  'add',
  'incr',
  'decr',
  'touch',
  'delete',
  'pop',
  'popEntry',
  'push',
  'pull',
] as const;

/** The methods of `cache.async` (the iterators, `read` and `memoize` stay synchronous). */
const ASYNC_METHODS = [
  'get',
  'getEntry',
  'has',
  ...GROUPED_METHODS,
  'pushMany',
  'peek',
  'peekItem',
  'expire',
  'evict',
  'clear',
  'cull',
  'check',
  'stats',
  'volume',
  'reset',
  'transact',
] as const;

/**
 * `cache.async`: the methods of a Cache returning promises; a busy write lock is waited for
 * with async pauses (never blocking the event loop), up to `timeout`, then `Timeout`.
 */
export type AsyncCache = Omit<
  AsyncMethods<Cache, (typeof ASYNC_METHODS)[number]>,
  GenericMethod
> & {
  get<V = unknown, D = undefined>(key: unknown, options?: GetOptions<D>): Promise<V | D>;
  getEntry<V = unknown>(
    key: unknown,
    options?: { retry?: boolean; placeholder?: boolean },
  ): Promise<Entry<V> | undefined>;
  pop<V = unknown, D = undefined>(
    key: unknown,
    options?: { default?: D; retry?: boolean },
  ): Promise<V | D>;
  popEntry<V = unknown>(key: unknown, options?: { retry?: boolean }): Promise<Entry<V> | undefined>;
  pull<V = unknown>(options?: QueueOptions): Promise<Entry<V> | undefined>;
  peek<V = unknown>(options?: QueueOptions): Promise<Entry<V> | undefined>;
  peekItem<V = unknown>(options?: {
    last?: boolean;
    retry?: boolean;
  }): Promise<Entry<V> | undefined>;
  transact<T>(fn: () => T, options?: { retry?: boolean }): Promise<T>;
  /** `setStream`, which is asynchronous already. */
  readonly setStream: Cache['setStream'];
};

/** Methods whose generic signatures `AsyncMethods` cannot carry over: declared by hand above. */
type GenericMethod =
  | 'get'
  | 'getEntry'
  | 'pop'
  | 'popEntry'
  | 'pull'
  | 'peek'
  | 'peekItem'
  | 'transact';

/** Statements of a closed Cache: any use throws ClosedError (so the hot path needs no check). */
function closedStatements(directory: string): CacheStatements {
  return new Proxy({} as CacheStatements, {
    get() {
      throw new ClosedError(`the cache in ${directory} is closed`);
    },
  });
}

/** Describes what was passed as `disk` when it is not a Disk class. */
function describeDisk(DiskType: unknown): string {
  if (typeof DiskType === 'function')
    return `class ${(DiskType as { name?: string }).name || '(anonymous)'}`;
  if (typeof DiskType === 'object' && DiskType !== null)
    return `an instance of ${(DiskType as object).constructor?.name ?? 'Object'}`;
  return typeof DiskType === 'string' ? JSON.stringify(DiskType) : String(DiskType);
}

/**
 * A persistent cache in a directory, shared safely by any number of processes and threads (one
 * Cache object per thread). Python's `diskcache.Cache` can open the same directory.
 *
 * Not guaranteed: expired entries still count in `size` and appear in `keys()` until they are
 * culled (writes cull up to `cullLimit` of them; `expire()` removes them all); `sizeLimit` is soft.
 */
export class Cache implements Disposable {
  readonly #directory: string;
  readonly #timeout: Seconds;
  readonly #db: Database.Database;
  readonly #disk: Disk;
  readonly #plainDisk: boolean;
  readonly #tx: Transactor;
  readonly #culler: Culler;
  readonly #queue: CacheQueue;
  /** The settings this object loaded, under diskcache's names. */
  readonly #settings: Record<string, SettingValue>;
  #statistics = false;
  #recordsAccess = false;
  #cullLimit = 0;
  #s!: CacheStatements;
  /** What the Culler was last configured with (the settings and statements in force). */
  #cull!: CullSettings;
  #closed = false;
  #async: AsyncCache | undefined;
  /** The read cache this object was opened with (null: `readCache: false`). */
  #readCacheOwned: ReadCache | null = null;
  /** The read cache in use: null also while statistics or an LRU/LFU policy are on. */
  #readCache: ReadCache | null = null;
  /** Opened for reading only (a read-only directory): reads record no access and no statistics. */
  readonly #readOnly: boolean;

  /**
   * Opens (creating if needed) the cache in `directory`; with no directory, a new temporary one.
   * Opening waits up to `timeout` seconds for the write lock when the database must be brought
   * up to date (a new cache, or changed settings); most opens take no lock.
   * @throws TypeError / RangeError for invalid options; DatabaseError when the directory cannot be
   * created or `cache.db` is not a usable database; Timeout when the lock could not be had.
   */
  constructor(directory?: string, options: CacheOptions = {}) {
    const internal = internalOptions ?? {};
    internalOptions = undefined;
    if (directory !== undefined && directory !== null && typeof directory !== 'string') {
      throw new TypeError(`directory must be a string path, got ${typeof directory}`);
    }
    // path.resolve('') is the working directory: an empty string (an unset variable) must not put
    // cache.db there. diskcache fails on '' too.
    if (directory === '') throw new TypeError('directory must be a non-empty path, got ""');
    const given = optionsToSettings(options);
    const readCacheLimits = checkReadCacheOption(options.readCache);
    const DiskType: DiskClass = options.disk ?? Disk;
    if (
      typeof DiskType !== 'function' ||
      (DiskType !== Disk && !(DiskType.prototype instanceof Disk))
    )
      throw new TypeError(
        `disk must be Disk or a subclass of Disk (the class, not an instance), got ${describeDisk(DiskType)}`,
      );
    this.#directory = path.resolve(directory ?? mkdtempSync(path.join(tmpdir(), 'diskcache-')));
    this.#timeout = options.timeout ?? 60;
    const opened = openDatabase(this.#directory, {
      given,
      openTimeout: internal.openTimeout ?? this.#timeout,
      busyTimeout: this.#timeout,
      realSettings: internal.realSettings ?? [],
    });
    this.#db = opened.db;
    this.#settings = opened.settings;
    this.#readOnly = opened.readOnly;
    const diskOptions: Record<string, unknown> = {
      minFileSize: Number(this.#settings.disk_min_file_size),
    };
    for (const [name, value] of Object.entries(this.#settings)) {
      if (name.startsWith('disk_') && name !== 'disk_min_file_size')
        diskOptions[name.slice(5)] = value;
    }
    try {
      this.#disk = new DiskType(this.#directory, diskOptions as never);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#plainDisk = DiskType === Disk;
    const disk = this.#disk;
    // Never used by a read-only open (see #prepare).
    if (readCacheLimits !== null && !this.#readOnly)
      this.#readCacheOwned = new ReadCache(
        this.#db,
        path.join(this.#directory, DBNAME),
        readCacheLimits,
      );
    const readCache = this.#readCacheOwned;
    this.#tx = new Transactor(this.#db, {
      timeout: this.#timeout,
      busyWait: 'sqlite',
      removeFile: (file) => disk.remove(file),
      removeFileAsync: this.#plainDisk ? (file) => disk.removeAsync(file) : undefined,
      name: this.#directory,
      beforeWrite: readCache === null ? undefined : () => readCache.invalidate(),
    });
    this.#culler = new Culler(this.#tx, opened.pageSize, this.#prepare());
    this.#queue = new CacheQueue({
      db: this.#db,
      disk,
      tx: this.#tx,
      culler: this.#culler,
      statements: () => this.#s,
      cullLimit: () => this.#cullLimit,
      fetch: (mode, filename, value, dbKey, raw) => this.#fetch(mode, filename, value, dbKey, raw),
      expireAt,
      bindTag,
    });
  }

  // ---- settings -------------------------------------------------------------------------------

  /** Reads the settings that shape behaviour and prepares the statements that depend on them. */
  #prepare(): CullSettings {
    const settings = this.#settings;
    const policy =
      POLICIES[String(settings.eviction_policy) as EvictionPolicy] ??
      POLICIES['least-recently-stored'];
    this.#statistics = !this.#readOnly && Boolean(Number(settings.statistics));
    this.#recordsAccess = !this.#readOnly && policy.access !== null;
    this.#cullLimit = Number(settings.cull_limit);
    this.#readCacheOwned?.invalidate();
    // Off while reads must be recorded, and for a read-only open (an immutable one sees no commit).
    this.#readCache =
      this.#statistics || this.#recordsAccess || this.#readOnly ? null : this.#readCacheOwned;
    (this.#disk as { minFileSize: number }).minFileSize = Number(settings.disk_min_file_size);
    this.#s = prepareStatements(this.#db, policy, this.#cullLimit);
    this.#cull = {
      statements: this.#s,
      policy,
      sizeLimit: Number(settings.size_limit),
      cullLimit: this.#cullLimit,
    };
    return this.#cull;
  }

  /** Applies changed settings (after `reset`). */
  #applySettings(): void {
    this.#readCacheOwned?.configure(); // the journal mode may have changed
    this.#culler.configure(this.#prepare());
  }

  /**
   * Runs `fn` inside one write transaction and returns its result: every cache operation inside
   * is atomic as a whole for other processes. Re-entrant; `fn` must be synchronous.
   * @example cache.transact(() => { const n = cache.get('n') ?? 0; cache.set('n', n + 1); });
   */
  transact<T>(fn: () => T, options: { retry?: boolean } = {}): T {
    if (typeof fn !== 'function') throw new TypeError('transact(fn): fn must be a function');
    return this.#tx.write(options.retry ?? false, null, () => {
      const result = fn();
      if (isThenable(result)) {
        throw new TypeError(
          'transact(fn): fn must be synchronous (a transaction cannot stay open across an await); the transaction was rolled back',
        );
      }
      return result;
    });
  }

  // ---- reading --------------------------------------------------------------------------------

  /** Turns a row's (mode, filename, value) into the value; `undefined` if its file is gone. */
  #fetch(
    mode: number,
    filename: string | null,
    value: DbValue,
    dbKey: DbValue,
    raw: number,
    placeholder = false,
  ): unknown {
    if (mode === MODE_RAW && this.#plainDisk) {
      if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) {
        // better-sqlite3 read an INTEGER beyond 2**53 as an inexact number: read it exactly.
        const exact = this.#s.exactValue.get(dbKey, raw);
        return typeof exact === 'bigint' ? intToJs(exact) : exact;
      }
      return typeof value === 'bigint' ? intToJs(value) : value;
    }
    try {
      return this.#disk.fetch(mode, filename, value);
    } catch (error) {
      return this.#fetchFailed(error, mode, value, placeholder);
    }
  }

  /** What a failed fetch gives: undefined when the file is gone, a placeholder, or the error. */
  #fetchFailed(error: unknown, mode: number, value: DbValue, placeholder = false): unknown {
    if (isMissingFile(error)) return undefined;
    if (placeholder && error instanceof UnsupportedValueError)
      return new Undecodable(
        mode,
        Buffer.isBuffer(value) ? value.length : undefined,
        error.message,
      );
    throw error;
  }

  /** One lookup with its metadata, recording access (LRU/LFU) and statistics where they are on. */
  #lookup(dbKey: DbValue, raw: number, retry: boolean): EntryRow | undefined {
    const now = Date.now() / 1000;
    const s = this.#s;
    const getAccess = s.getAccess;
    if (!this.#statistics) {
      if (getAccess === null) return this.#readRow(dbKey, raw, now);
      return this.#tx.run(retry, null, () => returning(getAccess, now, dbKey, raw, now));
    }
    return this.#tx.write(retry, null, () => {
      const row = getAccess ? getAccess.get(now, dbKey, raw, now) : s.getEntry.get(dbKey, raw, now);
      (row ? s.hit : s.miss).run();
      return row;
    });
  }

  /**
   * The live row of `key` through the read cache (read-cache.ts), when it is in use and no
   * transaction of this object is open (its rows are not committed yet). A kept row is returned
   * with its Buffers copied.
   */
  #readRow(dbKey: DbValue, raw: number, now: number): EntryRow | undefined {
    const readCache = this.#readCache;
    if (readCache === null || this.#tx.active || !readCache.use())
      return this.#s.getEntry.get(dbKey, raw, now);
    readCache.validate();
    const kept = readCache.lookup(dbKey, raw);
    if (kept === undefined) {
      const row = this.#s.getEntry.get(dbKey, raw, now);
      readCache.store(dbKey, raw, row);
      return row;
    }
    if (kept === null) return undefined;
    const [mode, filename, value, expireTime, tag] = kept;
    if (expireTime !== null && expireTime <= now) return undefined;
    return [
      mode,
      filename,
      Buffer.isBuffer(value) ? Buffer.from(value) : value,
      expireTime,
      Buffer.isBuffer(tag) ? Buffer.from(tag) : tag,
    ];
  }

  /** The row a `get` reads: recording access and statistics, or through the read cache. */
  #getRow(dbKey: DbValue, raw: number, options: GetOptions<unknown> | undefined) {
    if (this.#statistics || this.#recordsAccess)
      return this.#lookup(dbKey, raw, options?.retry ?? false);
    const now = Date.now() / 1000;
    return this.#readCache === null
      ? this.#s.get.get(dbKey, raw, now)
      : this.#readRow(dbKey, raw, now);
  }

  /** `async.get`: the row as `get` reads it, and a value file read by async I/O. */
  async #getAsync(key: unknown, options?: GetOptions<unknown>): Promise<unknown> {
    const [dbKey, raw] = this.#disk.put(key);
    const row = await retryWhileBusy(
      () => this.#getRow(dbKey, raw, options),
      this.#timeout,
      options?.retry ?? false,
      this.#directory,
    );
    if (row === undefined) return options?.default;
    const [mode, filename, value] = row;
    let fetched: unknown;
    if (filename === null || !this.#plainDisk)
      fetched = this.#fetch(mode, filename, value, dbKey, raw, options?.placeholder);
    else {
      try {
        fetched = await this.#disk.fetchAsync(mode, filename, value);
      } catch (error) {
        fetched = this.#fetchFailed(error, mode, value, options?.placeholder);
      }
    }
    return fetched === undefined ? options?.default : fetched;
  }

  /**
   * The value of `key`, or `options.default` (undefined) when it is missing or expired.
   * Never returns an expired value. With statistics or an LRU/LFU policy a get takes the write lock.
   */
  get<V = unknown, D = undefined>(key: unknown, options?: GetOptions<D>): V | D {
    const [dbKey, raw] = this.#disk.put(key);
    const row = this.#getRow(dbKey, raw, options);
    if (row === undefined) return options?.default as D;
    const [mode, filename, value] = row;
    const fetched = this.#fetch(mode, filename, value, dbKey, raw, options?.placeholder);
    return (fetched === undefined ? options?.default : fetched) as V | D;
  }

  /** The entry of `key` with its expiry time and tag (diskcache's `get(expire_time=True, tag=True)`). */
  getEntry<V = unknown>(
    key: unknown,
    options?: { retry?: boolean; placeholder?: boolean },
  ): Entry<V> | undefined {
    const [dbKey, raw] = this.#disk.put(key);
    const row = this.#lookup(dbKey, raw, options?.retry ?? false);
    if (row === undefined) return undefined;
    const [mode, filename, value, expireTime] = row;
    const fetched = this.#fetch(mode, filename, value, dbKey, raw, options?.placeholder);
    if (fetched === undefined) return undefined;
    let tag: unknown = row[4];
    // better-sqlite3 read an INTEGER tag beyond 2**53 as an inexact number: read it exactly.
    if (typeof tag === 'number' && Number.isInteger(tag) && !Number.isSafeInteger(tag))
      tag = this.#s.exactTag.get(dbKey, raw);
    return { key, value: fetched as V, expireTime, tag: readTag(tag) };
  }

  /** Whether `key` is present and not expired. Takes no lock and counts no statistics. */
  has(key: unknown): boolean {
    const [dbKey, raw] = this.#disk.put(key);
    const now = Date.now() / 1000;
    const readCache = this.#readCache;
    if (readCache === null || this.#tx.active || !readCache.use())
      return this.#s.has.get(dbKey, raw, now) !== undefined;
    readCache.validate();
    const kept = readCache.lookup(dbKey, raw);
    if (kept === undefined) {
      const present = this.#s.has.get(dbKey, raw, now) !== undefined;
      if (!present) readCache.store(dbKey, raw, undefined);
      return present;
    }
    return kept !== null && (kept[3] === null || kept[3] > now);
  }

  /**
   * A stream of the value of `key` (bytes; strings as UTF-8). Values in files are streamed from
   * the file, which stays readable even if the entry is deleted meanwhile.
   * @throws KeyError when the key is missing or expired.
   */
  read(key: unknown): Readable {
    const [dbKey, raw] = this.#disk.put(key);
    const row = this.#s.get.get(dbKey, raw, Date.now() / 1000);
    if (row === undefined) throw new KeyError(key);
    const [mode, filename, value] = row;
    if ((mode === MODE_BINARY || mode === MODE_TEXT) && filename !== null && this.#plainDisk) {
      let fd: number;
      try {
        fd = fs.openSync(this.#disk.fullPath(filename), 'r');
      } catch (error) {
        if (isMissingFile(error)) throw new KeyError(key);
        throw error;
      }
      return fs.createReadStream('', { fd });
    }
    const fetched = this.#fetch(mode, filename, value, dbKey, raw);
    if (fetched === undefined) throw new KeyError(key);
    if (typeof fetched === 'string') return Readable.from([Buffer.from(fetched, 'utf8')]);
    if (fetched instanceof Uint8Array) return Readable.from([fetched]);
    throw new TypeError(
      `read(key): the value is a ${typeof fetched}, not bytes or a string; use get()`,
    );
  }

  // ---- writing --------------------------------------------------------------------------------

  /**
   * Writes a row for an already stored value in one transaction: the general path of set, add
   * (`onlyIfAbsent`: not over a live entry; returns false then) and setStream.
   */
  #storeRow(write: RowWrite, stored: StoredValue, onlyIfAbsent = false, ownsFile = true): boolean {
    const { dbKey, raw, expireTime, tag, now, retry } = write;
    return this.#tx.write(retry, ownsFile ? stored.filename : null, () => {
      if (!ownsFile && stored.filename !== null) this.#tx.addWritten([stored.filename]);
      const s = this.#s;
      const { size, mode, filename, dbValue } = stored;
      const existing = s.selectRow.get(dbKey, raw);
      if (existing) {
        const [rowid, oldFilename, oldExpireTime] = existing;
        if (onlyIfAbsent && (oldExpireTime === null || oldExpireTime > now)) {
          // add() of a live key: nothing is written, so the new value file goes at once.
          if (filename !== null) this.#tx.discardWritten(filename);
          return false;
        }
        s.updateRow.run(now, expireTime, now, tag, size, mode, filename, dbValue, rowid);
        this.#tx.removeLater(oldFilename);
      } else {
        s.insertRow.run(dbKey, raw, now, expireTime, now, tag, size, mode, filename, dbValue);
      }
      this.#culler.cull(now);
      return true;
    });
  }

  /**
   * Stores `value` under `key` (replacing any value, tag and expiry; insertion order is kept).
   * @throws TypeError for an invalid key or value; Timeout when the write lock cannot be had.
   */
  set(key: unknown, value: unknown, options?: SetOptions): boolean {
    // Every argument is checked before the value is stored: a rejected call leaves no file.
    const write = this.#rowWrite(key, options);
    return this.#setStored(write, this.#disk.store(value, key), true);
  }

  /** The checked arguments of a write of `key` (every one checked before any file is written). */
  #rowWrite(key: unknown, options: SetOptions | undefined): RowWrite {
    const [dbKey, raw] = this.#disk.put(key);
    const now = Date.now() / 1000;
    return {
      dbKey,
      raw,
      now,
      expireTime: options?.expire == null ? null : expireAt(now, options.expire),
      tag: options?.tag == null ? null : bindTag(options.tag),
      retry: options?.retry ?? false,
    };
  }

  /**
   * `set` of a value already stored (its file written). `ownsFile`: a failed attempt deletes the
   * value file (else the caller does, when it gives up: `async.set` retries with the same file).
   */
  #setStored(write: RowWrite, stored: StoredValue, ownsFile: boolean): boolean {
    if (stored.filename === null) {
      const { dbKey, raw, expireTime, tag, now, retry } = write;
      // One statement: insert, or update in place when the old value has no file to delete.
      const s = this.#s;
      const { mode, dbValue } = stored;
      const info: CullInfoRow | undefined = this.#tx.run(
        retry,
        null,
        () =>
          (expireTime === null
            ? returning(s.setInlineNoExpiry, dbKey, raw, now, now, tag, mode, dbValue)
            : undefined) ??
          returning(s.setInline, dbKey, raw, now, expireTime, now, tag, mode, dbValue),
      );
      if (info !== undefined) {
        this.#culler.cullAfter(info[0], now);
        return true;
      }
    }
    this.#storeRow(write, stored, false, ownsFile);
    return true;
  }

  /** `async.set`: a value file written by async I/O, then the row (committed in a group). */
  async #setAsync(
    key: unknown,
    value: unknown,
    options: SetOptions | undefined,
    enqueue: (op: () => unknown) => Promise<unknown>,
  ): Promise<boolean> {
    const write = this.#rowWrite(key, options);
    const { stored, bytes } = this.#disk.storeLater(value, key);
    const file = stored.filename;
    if (file !== null && bytes !== null)
      await writeNewFileAsync(this.#disk.fullPath(file), bytes).catch(async (error) => {
        await this.#disk.removeAsync(file); // the directories made for it
        throw error;
      });
    const op = () => this.#setStored(write, stored, false);
    try {
      await (write.retry ? retryWhileBusy(op, this.#timeout, true, this.#directory) : enqueue(op));
    } catch (error) {
      if (file !== null) await this.#disk.removeAsync(file);
      throw error;
    }
    return true;
  }

  /** Streams `readable` into a value file and stores it under `key` (read back as a Buffer). */
  async setStream(
    key: unknown,
    readable: NodeJS.ReadableStream | Readable,
    options?: SetOptions,
  ): Promise<boolean> {
    const [dbKey, raw] = this.#disk.put(key);
    // Checked before the file is written: a rejected call leaves nothing behind.
    expireAt(0, options?.expire);
    const tag = bindTag(options?.tag);
    const { relative, full } = this.#disk.filename(key);
    try {
      fs.mkdirSync(path.dirname(full), { recursive: true });
      await pipeline(readable, fs.createWriteStream(full, { flags: 'wx' }));
    } catch (error) {
      this.#disk.remove(relative);
      throw storageError(whyNotWritten(error, full), `writing the value file ${full}`);
    }
    const size = fs.statSync(full).size;
    const now = Date.now() / 1000;
    const stored: StoredValue = { size, mode: MODE_BINARY, filename: relative, dbValue: null };
    const expireTime = expireAt(now, options?.expire);
    this.#storeRow({ dbKey, raw, expireTime, tag, now, retry: options?.retry ?? false }, stored);
    return true;
  }

  /**
   * Stores `value` only if `key` is absent or expired. Atomic across processes: of concurrent
   * adds of one key exactly one returns true.
   */
  add(key: unknown, value: unknown, options?: SetOptions): boolean {
    const [dbKey, raw] = this.#disk.put(key);
    const now = Date.now() / 1000;
    const expireTime = expireAt(now, options?.expire);
    const tag = bindTag(options?.tag);
    const retry = options?.retry ?? false;
    const stored = this.#disk.store(value, key);
    const s = this.#s;
    if (stored.filename === null) {
      const { mode, dbValue } = stored;
      const info = this.#tx.run(retry, null, () =>
        returning(s.addInline, dbKey, raw, now, expireTime, now, tag, mode, dbValue, now),
      );
      if (info !== undefined) {
        this.#culler.cullAfter(info[0], now);
        return true;
      }
    }
    return this.#storeRow({ dbKey, raw, expireTime, tag, now, retry }, stored, true);
  }

  /**
   * Adds `delta` to the number stored under `key` and returns the new value. A missing or expired
   * key starts from `default` (0); with `default: null` it throws KeyError. Integers stay exact
   * 64-bit integers (a bigint is returned beyond 2**53).
   */
  incr(
    key: unknown,
    delta: number | bigint = 1,
    options?: { default?: number | bigint | null; retry?: boolean },
  ): number | bigint {
    if (typeof delta !== 'bigint' && (typeof delta !== 'number' || !Number.isFinite(delta))) {
      throw new TypeError(`incr: delta must be a finite number or a bigint, got ${String(delta)}`);
    }
    // `{default: undefined}` means the default (0), as a destructuring default would; only null means KeyError.
    const initial = options?.default === undefined ? 0 : options.default;
    if (initial !== null && typeof initial !== 'number' && typeof initial !== 'bigint') {
      throw new TypeError(
        `incr: default must be a number, a bigint or null, got ${typeof initial}`,
      );
    }
    const [dbKey, raw] = this.#disk.put(key);
    const s = this.#s;
    return this.#tx.write(options?.retry ?? false, null, () => {
      const now = Date.now() / 1000;
      const row = s.selectRow.get(dbKey, raw);
      if (row === undefined || (row[2] !== null && row[2] <= now)) {
        if (initial === null) throw new KeyError(key);
        const result = addNumbers(initial, delta);
        const bound =
          typeof result === 'number' && Number.isSafeInteger(result) ? BigInt(result) : result;
        if (row) {
          const [rowid, oldFilename] = row;
          s.updateRow.run(now, null, now, null, 0, MODE_RAW, null, bound, rowid);
          this.#tx.removeLater(oldFilename);
        } else {
          s.insertRow.run(dbKey, raw, now, null, now, null, 0, MODE_RAW, null, bound);
        }
        this.#culler.cull(now);
        return typeof result === 'bigint' ? intToJs(result) : result;
      }
      const [rowid, filename, , mode, value, valueType] = row;
      if (Number(mode) === MODE_PICKLE && filename === null && this.#plainDisk) {
        // A bigint below 2**53 is serialized so that it reads back as a bigint: add in bigint
        // and store it the same way, keeping the type (and the expiry and tag, as for numbers).
        const current = this.#disk.fetch(MODE_PICKLE, null, value);
        if (typeof current === 'bigint') {
          if (typeof delta === 'number' && !Number.isInteger(delta)) {
            throw new TypeError(
              `incr: a bigint value can only be incremented by an integer, got ${delta}`,
            );
          }
          const result = current + BigInt(delta);
          const stored = this.#disk.store(result);
          s.incrStored.run(stored.dbValue, stored.mode, now, now, rowid);
          return result;
        }
      }
      if (Number(mode) !== MODE_RAW || (valueType !== 'integer' && valueType !== 'real')) {
        throw new TypeError(`incr: the value stored under this key is not a number`);
      }
      // A REAL stays a REAL (Python's 5.0 + 1 is 6.0): a JS number binds as REAL.
      const result =
        valueType === 'real' ? Number(value) + Number(delta) : addNumbers(value, delta);
      s.incrUpdate.run(result, now, now, rowid);
      return typeof result === 'bigint' ? intToJs(result) : result;
    });
  }

  /** `incr(key, -delta, options)`. */
  decr(
    key: unknown,
    delta: number | bigint = 1,
    options?: { default?: number | bigint | null; retry?: boolean },
  ): number | bigint {
    if (typeof delta !== 'bigint' && typeof delta !== 'number')
      throw new TypeError(`decr: delta must be a number or a bigint, got ${typeof delta}`);
    return this.incr(key, -delta, options);
  }

  /** Sets the expiry of a live key (`expire` seconds from now; undefined: never). */
  touch(key: unknown, options?: { expire?: number | null; retry?: boolean }): boolean {
    const [dbKey, raw] = this.#disk.put(key);
    const now = Date.now() / 1000;
    const expireTime = expireAt(now, options?.expire);
    return this.#tx.run(
      options?.retry ?? false,
      null,
      () => this.#s.touch.run(expireTime, dbKey, raw, now).changes > 0,
    );
  }

  /** Deletes a live key; returns whether it was there. */
  delete(key: unknown, options?: { retry?: boolean }): boolean {
    const [dbKey, raw] = this.#disk.put(key);
    const now = Date.now() / 1000;
    const s = this.#s;
    const files = this.#tx.run(options?.retry ?? false, null, () => s.delete.all(dbKey, raw, now));
    if (files.length === 0) return false;
    this.#tx.removeLater(files[0]);
    return true;
  }

  /** Removes `key` and returns its entry, or undefined when it is missing or expired. */
  popEntry<V = unknown>(key: unknown, options?: { retry?: boolean }): Entry<V> | undefined {
    const [dbKey, raw] = this.#disk.put(key);
    const now = Date.now() / 1000;
    const s = this.#s;
    const row = this.#tx.run(options?.retry ?? false, null, () =>
      returning(s.pop, dbKey, raw, now),
    );
    if (row === undefined) return undefined;
    const [mode, filename, value, expireTime, tag] = row;
    const fetched = this.#fetch(Number(mode), filename, value, dbKey, raw);
    this.#tx.removeLater(filename);
    if (fetched === undefined) return undefined;
    return { key, value: fetched as V, expireTime, tag: readTag(tag) };
  }

  /** Removes `key` and returns its value, or `options.default` when it is missing or expired. */
  pop<V = unknown, D = undefined>(key: unknown, options?: { default?: D; retry?: boolean }): V | D {
    const entry = this.popEntry<V>(key, options);
    return entry === undefined ? (options?.default as D) : entry.value;
  }

  // ---- queue (cache-queue.ts) -----------------------------------------------------------------

  /**
   * Pushes `value` onto a queue kept in the cache and returns its new key: integers from
   * 500000000000000 without a prefix, strings `prefix-500000000000000` with one.
   */
  push(value: unknown, options?: QueueOptions & SetOptions): string | number | bigint {
    return this.#queue.push(value, options);
  }

  /**
   * Pushes every value of `values` onto one end of a queue in ONE write transaction and returns
   * their keys in push order: the batch form of `push` (what `Deque.extend` uses). Values are
   * serialized (and value files written) before the lock is taken. Pushing to the front puts the
   * last value first, as repeated `push(value, {side: 'front'})` would.
   */
  pushMany(
    values: Iterable<unknown>,
    options?: QueueOptions & SetOptions,
  ): (string | number | bigint)[] {
    return this.#queue.pushMany(values, options);
  }

  /** Removes and returns the entry at one end of a queue (default: the front); undefined when empty. */
  pull<V = unknown>(options?: QueueOptions): Entry<V> | undefined {
    return this.#queue.pull<V>(options);
  }

  /** The entry at one end of a queue without removing it (expired ones met there are removed). */
  peek<V = unknown>(options?: QueueOptions): Entry<V> | undefined {
    return this.#queue.peek<V>(options);
  }

  /** The first (`last: false`) or last inserted entry; expired ones met there are removed. */
  peekItem<V = unknown>(options?: { last?: boolean; retry?: boolean }): Entry<V> | undefined {
    return this.#queue.peekItem<V>(options);
  }

  // ---- iteration ------------------------------------------------------------------------------

  /**
   * Keys in insertion order (`reverse`: newest first), including expired ones not yet culled.
   * Read in pages: safe while other processes write; entries added after it is created are not seen.
   */
  keys(options?: { reverse?: boolean }): Generator<unknown> {
    // The bound is read now, not at the first next(): as in diskcache, an iterator never sees
    // entries added after it was created (and one created on an empty cache stays empty).
    return this.#keysUpTo(this.#s.maxRowid.get() ?? null, options?.reverse ?? false);
  }

  *#keysUpTo(bound: bigint | number | null, reverse: boolean): Generator<unknown> {
    const s = this.#s;
    if (bound === null) return;
    let after: bigint | number = reverse ? BigInt(bound) + 1n : 0;
    for (;;) {
      const rows = reverse ? s.keysBackward.all(after) : s.keysForward.all(after, bound);
      for (const [, key, raw] of rows) yield this.#disk.get(key, Number(raw));
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]![0];
    }
  }

  [Symbol.iterator](): Generator<unknown> {
    return this.keys();
  }

  /**
   * `[key, value]` pairs of live entries in insertion order. A value this process cannot decode
   * (another language's object) is an `Undecodable` placeholder: one entry never aborts a listing.
   */
  entries<V = unknown>(): Generator<[unknown, V]> {
    return this.#entriesUpTo<V>(this.#s.maxRowid.get() ?? null);
  }

  *#entriesUpTo<V>(bound: bigint | number | null): Generator<[unknown, V]> {
    const s = this.#s;
    if (bound === null) return;
    let after: bigint | number = 0;
    for (;;) {
      const rows = s.entriesForward.all(after, bound);
      const now = Date.now() / 1000;
      for (const [, key, raw, expireTime, mode, filename, value] of rows) {
        if (expireTime !== null && expireTime <= now) continue;
        const fetched = this.#fetch(Number(mode), filename, value, key, Number(raw), true);
        if (fetched !== undefined) yield [this.#disk.get(key, Number(raw)), fetched as V];
      }
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]![0];
    }
  }

  /**
   * Keys in SQLite's sort order of (key, raw): numbers, then strings, then bytes and structured
   * keys. Includes expired keys. Not a snapshot.
   */
  *iterKeys(options?: { reverse?: boolean }): Generator<unknown> {
    const s = this.#s;
    const reverse = options?.reverse ?? false;
    let rows = (reverse ? s.sortedLast : s.sortedFirst).all();
    for (;;) {
      for (const [key, raw] of rows) yield this.#disk.get(key, Number(raw));
      if (rows.length < BATCH) return;
      const [lastKey, lastRaw] = rows[rows.length - 1]!;
      rows = (reverse ? s.sortedPrevious : s.sortedNext).all(lastKey, lastRaw);
    }
  }

  // ---- removal in batches ---------------------------------------------------------------------

  /**
   * Runs a batch DELETE (whose rows are the deleted entries' file names) until it removes less
   * than `batch` entries (once, with `once`); a Timeout carries the count removed so far.
   */
  #removeBatches(
    statement: Database.Statement<unknown[], string | null>,
    params: unknown[],
    retry: boolean,
    count = 0,
    once = false,
  ): number {
    for (;;) {
      let files: (string | null)[];
      try {
        files = this.#tx.run(retry, null, () => statement.all(...params));
      } catch (error) {
        if (error instanceof Timeout)
          throw new Timeout(error.message, { cause: error.cause, count });
        throw error;
      }
      count += files.length;
      for (const file of files) this.#tx.removeLater(file);
      if (once || files.length < BATCH) return count;
    }
  }

  /** Removes every entry that expired before `now` (epoch seconds); returns how many. */
  expire(now?: number, options?: { retry?: boolean }): number {
    const at = now ?? Date.now() / 1000;
    if (typeof at !== 'number' || Number.isNaN(at))
      throw new TypeError(`expire(now): now must be epoch seconds, got ${String(now)}`);
    return this.#removeBatches(this.#s.expireBatch, [at], options?.retry ?? false);
  }

  /** Removes every entry with this tag, live or not; returns how many. */
  evict(tag: Tag, options?: { retry?: boolean }): number {
    return this.#removeBatches(this.#s.evictBatch, [bindTag(tag)], options?.retry ?? false);
  }

  /** Removes every entry; returns how many. The directory and cache.db stay. */
  clear(options?: { retry?: boolean }): number {
    return this.#removeBatches(this.#s.clearBatch, [], options?.retry ?? false);
  }

  /**
   * Removes expired entries, then entries in eviction-policy order until `volume()` is within
   * `sizeLimit`; returns how many were removed (expired ones included).
   */
  cull(options?: { retry?: boolean }): number {
    const retry = options?.retry ?? false;
    let count = this.expire(undefined, options);
    const cullPolicy = this.#s.cullPolicy;
    if (cullPolicy === null) return count;
    const sizeLimit = Number(this.#settings.size_limit);
    while (this.volume() > sizeLimit) {
      const total = this.#removeBatches(cullPolicy, [10], retry, count, true);
      if (total === count) break;
      count = total;
    }
    return count;
  }

  // ---- maintenance ----------------------------------------------------------------------------

  /**
   * Checks the database and the value files; with `fix`, repairs what it finds (and VACUUMs).
   * Holds the write lock during the scan.
   */
  check(options?: { fix?: boolean; retry?: boolean }): CheckWarning[] {
    const fix = checkBoolean('check({fix})', options?.fix ?? false);
    this.#tx.checkOpen();
    return runCheck(this.#db, this.#disk, fix, (body) =>
      this.#tx.write(options?.retry ?? false, null, body),
    );
  }

  /**
   * Hit and miss counts. `reset: true` zeroes them after reading; `enable` turns counting on or
   * off (left as it is when omitted).
   */
  stats(options?: { enable?: boolean; reset?: boolean }): { hits: number; misses: number } {
    // Checked before anything is read or changed.
    if (options?.enable !== undefined) checkBoolean('stats({enable})', options.enable);
    if (options?.reset !== undefined) checkBoolean('stats({reset})', options.reset);
    const [hits, misses] = this.#s.stats.get()!;
    if (options?.reset) this.#tx.run(true, null, () => this.#s.resetStats.run());
    if (options?.enable !== undefined) this.reset('statistics', options.enable ? 1 : 0);
    return { hits: Number(hits), misses: Number(misses) };
  }

  /**
   * How many live (unexpired) entries each tag has, untagged ones under `null`: one query, no
   * value read. A Buffer tag is a key of its own in the map (a Buffer is not equal to another).
   * @example cache.tagCounts().get('200') // entries tagged '200'
   */
  tagCounts(): Map<Tag, number> {
    this.#tx.checkOpen();
    const rows = this.#s.tagCounts.all(Date.now() / 1000);
    return new Map(rows.map(([tag, count]) => [readTag(tag), Number(count)]));
  }

  /** Bytes on disk: database pages plus value files (the WAL file is not counted). */
  volume(): number {
    return this.#culler.volume();
  }

  /** Number of entries, including expired ones not yet culled. */
  get size(): number {
    return Number(this.#s.count.get());
  }

  /**
   * Reads a setting from the database (with no value), or sets it for every process (with one).
   * Names are diskcache's (`size_limit`) or the option names (`sizeLimit`).
   */
  reset(setting: string, value?: SettingValue | boolean): SettingValue {
    this.#tx.checkOpen();
    return resetSetting(
      {
        db: this.#db,
        tx: this.#tx,
        statements: () => this.#s,
        settings: this.#settings,
        apply: () => this.#applySettings(),
      },
      setting,
      value,
    );
  }

  // ---- memoize --------------------------------------------------------------------------------

  /**
   * A decorator that keeps a function's results in this cache, keyed by its name and arguments.
   * Works for sync and async functions; concurrent calls of an async function with the same
   * arguments share one computation in this process. Exceptions are not cached, nor is undefined.
   * Recursive calls are memoized when they go through the returned function (call it by the
   * name you assign it to, not by the inner function's own name).
   * @example const slowSquare = cache.memoize({ expire: 60 })(function slowSquare(n: number) { return n * n; });
   */
  memoize(
    options?: MemoizeOptions,
  ): <F extends (...args: never[]) => unknown>(fn: F) => Memoized<F> {
    const checked = checkMemoizeOptions(options);
    return (fn) => memoizeFunction(this, checked, fn as never) as never;
  }

  // ---- lifecycle and properties ---------------------------------------------------------------

  /**
   * The same methods returning promises, for servers: waiting for another process's write lock
   * never blocks the event loop (async backoff up to `timeout`, then `Timeout`). Use the
   * synchronous methods in scripts and workers, where blocking costs nothing.
   * @example await cache.async.set('k', 1); const v = await cache.async.get('k');
   */
  get async(): AsyncCache {
    if (this.#async) return this.#async;
    const options = { timeout: () => this.#timeout, name: () => this.#directory };
    const group: GroupCommit = {
      methods: GROUPED_METHODS,
      commit: (ops) => this.groupCommit(ops),
    };
    const enqueue = grouper(group, options);
    const view = asyncView(this as Cache, ASYNC_METHODS, { ...options, group, enqueue });
    // With the default Disk, get and set read and write value files by async I/O.
    const plain = this.#plainDisk;
    this.#async = Object.freeze({
      ...view,
      get: plain ? (key: unknown, o?: GetOptions<unknown>) => this.#getAsync(key, o) : view.get,
      set: plain
        ? (key: unknown, value: unknown, o?: SetOptions) => this.#setAsync(key, value, o, enqueue)
        : view.set,
      setStream: this.setStream.bind(this),
    } as unknown as AsyncCache);
    return this.#async;
  }

  /**
   * @internal Runs `ops` (calls of this object's methods) in ONE write transaction, each in a
   * savepoint: an op that throws is undone alone and its error returned in its slot. The group
   * commit of the `.async` views.
   */
  groupCommit(ops: readonly (() => unknown)[]): Settled[] {
    return this.#tx.writeEach(ops);
  }

  /** The cache directory (absolute). */
  get directory(): string {
    return this.#directory;
  }

  /** Seconds to wait for the write lock. */
  get timeout(): Seconds {
    return this.#timeout;
  }

  /** The serializer. */
  get disk(): Disk {
    return this.#disk;
  }

  /** The settings this object loaded, under diskcache's names (stale if another process changed them; see `reset`). */
  get settings(): Readonly<Record<string, SettingValue>> {
    return Object.freeze({ ...this.#settings });
  }

  /**
   * How the read cache checks that no process committed since it read its rows: `'shm'` (the
   * WAL-index header through the native addon, no SQLite call), `'data_version'` (one `PRAGMA
   * data_version` a read), or null while it is off (`readCache: false`, statistics, an LRU/LFU
   * policy, a read-only open, a closed Cache). See the README's "Reads from memory when nothing
   * changed".
   */
  get readCacheValidator(): ReadCacheValidator | null {
    return this.#readCache?.validator ?? null;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the database connection. Further calls on this object throw `ClosedError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#tx.close();
    this.#readCache = null;
    this.#s = closedStatements(this.#directory);
    this.#culler.configure({ ...this.#cull, statements: this.#s });
    this.#db.close();
    this.#readCacheOwned?.close(); // after the connection: see ShmValidator.release
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
