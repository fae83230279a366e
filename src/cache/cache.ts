/**
 * Cache: a persistent, process-safe key-value store in python-diskcache's on-disk format.
 *
 * Every method is synchronous (better-sqlite3 is) and atomic across processes. Single-statement
 * operations (get, set of an inline value, delete, pop, touch, push, pull) run as one SQLite
 * statement in autocommit mode; multi-statement ones run inside `BEGIN IMMEDIATE` through
 * `#write`, the one transaction helper, which also deletes replaced value files after commit.
 * Statements are prepared once per connection; no SQL is built on a hot path.
 * This module must not import from outside src/cache.
 */
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Database from 'better-sqlite3';
import { runCheck } from './check.js';
import {
  type DbValue,
  Disk,
  intToJs,
  MODE_BINARY,
  MODE_PICKLE,
  MODE_RAW,
  MODE_TEXT,
  type StoredValue,
} from './disk.js';
import { KeyError, Timeout } from './errors.js';
import { POLICIES, type Policy } from './eviction.js';
import { checkMemoizeOptions, type Memoized, memoizeFunction } from './memoize.js';
import {
  applyPragma,
  bindSetting,
  isBusy,
  openDatabase,
  optionsToSettings,
  type SettingValue,
} from './schema.js';
import {
  BATCH,
  type CacheStatements,
  insertBatchStatement,
  prepareStatements,
  type QueueStatementKind,
  queueStatement,
} from './statements.js';
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

type Statement = Database.Statement;
type Row = unknown[];

/** Inline writes between two reads of the volume while it is well below `sizeLimit`. */
const VOLUME_CHECK_INTERVAL = 64;
const QUEUE_START = 500000000000000n;
const QUEUE_MIN = 0n;
const QUEUE_MAX = 999999999999999n;
/** The key range of the integer queue (no prefix). */
const QUEUE_BOUNDS: readonly [DbValue, DbValue] = [QUEUE_MIN, QUEUE_MAX];
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** camelCase option names accepted by `reset` besides diskcache's names. */
const SETTING_ALIASES: Record<string, string> = {
  sizeLimit: 'size_limit',
  cullLimit: 'cull_limit',
  evictionPolicy: 'eviction_policy',
  statistics: 'statistics',
  tagIndex: 'tag_index',
  minFileSize: 'disk_min_file_size',
};

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

function expireAt(now: number, expire: number | null | undefined): number | null {
  if (expire === undefined || expire === null) return null;
  if (typeof expire !== 'number' || Number.isNaN(expire))
    throw new TypeError(`expire must be a number of seconds, got ${String(expire)}`);
  return now + expire;
}

/** Binds a tag: integral numbers as INTEGER, like Python ints. */
function bindTag(tag: Tag | undefined): DbValue {
  if (tag === undefined || tag === null) return null;
  switch (typeof tag) {
    case 'string':
    case 'bigint':
      return tag;
    case 'number':
      if (Number.isNaN(tag)) throw new TypeError('tag must not be NaN');
      return Number.isSafeInteger(tag) ? BigInt(tag) : tag;
    default:
      if (Buffer.isBuffer(tag)) return tag;
      throw new TypeError(
        `tag must be a string, number, bigint, Buffer or null, got ${typeof tag}`,
      );
  }
}

function readTag(tag: unknown): Tag {
  return typeof tag === 'bigint' ? intToJs(tag) : (tag as Tag);
}

function readTime(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function checkSide(side: unknown, fallback: 'back' | 'front'): 'back' | 'front' {
  if (side === undefined) return fallback;
  if (side !== 'back' && side !== 'front')
    throw new TypeError(`side must be 'back' or 'front', got ${String(side)}`);
  return side;
}

/**
 * Runs a write with RETURNING and gives its first row. `.all()`, never `.get()`: `.get()` stops at
 * the first row, so an autocommit write ends in a reset instead of SQLITE_DONE and SQLite skips its
 * WAL hook - no automatic checkpoint ever runs and the WAL grows without bound.
 */
function returning(statement: Statement, ...params: unknown[]): Row | undefined {
  return statement.all(...params)[0] as Row | undefined;
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

/**
 * A persistent cache in a directory, shared safely by any number of processes and threads (one
 * Cache object per thread). Python's `diskcache.Cache` can open the same directory.
 *
 * Not guaranteed: expired entries still count in `size` and appear in `keys()` until they are
 * culled (writes cull up to `cullLimit` of them; `expire()` removes them all); `sizeLimit` is soft.
 */
export class Cache implements Disposable {
  readonly #directory: string;
  readonly #timeout: number;
  readonly #db: Database.Database;
  readonly #disk: Disk;
  readonly #plainDisk: boolean;
  readonly #pageSize: number;
  #settings: Record<string, SettingValue>;
  #policy!: Policy;
  #statistics!: boolean;
  #sizeLimit!: number;
  #cullLimit!: number;
  /** The volume last read by `#overSizeLimit`, and inline writes since (the first write reads it). */
  #lastVolume = 0;
  #writesSinceVolume = VOLUME_CHECK_INTERVAL;
  /** Nesting depth of `#write` transactions on this object (re-entrancy). */
  #depth = 0;
  /** Value files to delete once the outermost transaction commits. */
  #pendingRemovals: string[] = [];
  /** Value files written inside the open transaction: deleted if it rolls back. */
  #written: string[] = [];
  #closed = false;
  #s!: CacheStatements;

  /**
   * Opens (creating if needed) the cache in `directory`; with no directory, a new temporary one.
   * @throws TypeError / RangeError for invalid options; DatabaseError when the directory cannot be
   * created or `cache.db` is not a usable database.
   */
  constructor(directory?: string, options: CacheOptions = {}) {
    if (directory !== undefined && directory !== null && typeof directory !== 'string') {
      throw new TypeError(`directory must be a string path, got ${typeof directory}`);
    }
    // path.resolve('') is the working directory: an empty string (an unset variable) must not put
    // cache.db there. diskcache fails on '' too.
    if (directory === '') throw new TypeError('directory must be a non-empty path, got ""');
    const given = optionsToSettings(options);
    const DiskType: DiskClass = options.disk ?? Disk;
    if (
      typeof DiskType !== 'function' ||
      (DiskType !== Disk && !(DiskType.prototype instanceof Disk))
    ) {
      const got =
        typeof DiskType === 'function'
          ? `class ${(DiskType as { name?: string }).name || '(anonymous)'}`
          : typeof DiskType === 'object' && DiskType !== null
            ? `an instance of ${(DiskType as object).constructor?.name ?? 'Object'}`
            : typeof DiskType === 'string'
              ? JSON.stringify(DiskType)
              : String(DiskType);
      throw new TypeError(
        `disk must be Disk or a subclass of Disk (the class, not an instance), got ${got}`,
      );
    }
    this.#directory = path.resolve(directory ?? mkdtempSync(path.join(tmpdir(), 'diskcache-')));
    this.#timeout = options.timeout ?? 60;
    const opened = openDatabase(
      this.#directory,
      given,
      this.#timeout,
      options.sizeLimitAsReal ? ['size_limit'] : [],
    );
    this.#db = opened.db;
    this.#pageSize = opened.pageSize;
    this.#settings = opened.settings;
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
    this.#applySettings();
  }

  // ---- connection, statements, settings --------------------------------------------------------

  /** The push/pull/peek statements, prepared on first use (prefix or not, front or back). */
  #queueStatement(kind: QueueStatementKind, prefixed: boolean, side: 'back' | 'front'): Statement {
    return queueStatement(this.#db, this.#s, kind, prefixed, side, this.#cullLimit);
  }

  /** Refreshes the cached settings and the statements that depend on them. */
  #applySettings(): void {
    const policy = String(this.#settings.eviction_policy) as EvictionPolicy;
    this.#policy = POLICIES[policy] ?? POLICIES['least-recently-stored'];
    this.#statistics = Boolean(Number(this.#settings.statistics));
    this.#sizeLimit = Number(this.#settings.size_limit);
    this.#cullLimit = Number(this.#settings.cull_limit);
    this.#writesSinceVolume = VOLUME_CHECK_INTERVAL; // read the volume again at the next write
    (this.#disk as { minFileSize: number }).minFileSize = Number(this.#settings.disk_min_file_size);
    this.#s = prepareStatements(this.#db, this.#policy, this.#cullLimit);
  }

  // ---- transactions ---------------------------------------------------------------------------

  #timeoutError(cause: unknown, count = 0): Timeout {
    return new Timeout(
      `could not get the write lock of ${this.#directory} within ${this.#timeout} s`,
      { cause, count },
    );
  }

  /**
   * Runs `body` inside one write transaction (BEGIN IMMEDIATE), or inside the one already open on
   * this object. On commit, queued value files are deleted; on failure, files written for the
   * transaction are. `writtenFile` is a file written for this operation before it started.
   */
  #write<T>(retry: boolean, writtenFile: string | null, body: () => T): T {
    if (this.#depth > 0) {
      if (writtenFile !== null) this.#written.push(writtenFile);
      return body();
    }
    for (;;) {
      try {
        this.#s.begin.run();
        break;
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (!retry) {
          if (writtenFile !== null) this.#disk.remove(writtenFile);
          throw this.#timeoutError(error);
        }
      }
    }
    this.#depth = 1;
    let result: T;
    try {
      result = body();
      this.#s.commit.run();
    } catch (error) {
      this.#depth = 0;
      if (this.#db.inTransaction) this.#s.rollback.run();
      if (writtenFile !== null) this.#disk.remove(writtenFile);
      for (const file of this.#written) this.#disk.remove(file);
      this.#written = [];
      this.#pendingRemovals = []; // the rows that referenced them are back
      throw error;
    }
    this.#depth = 0;
    this.#written = [];
    const removals = this.#pendingRemovals;
    if (removals.length > 0) {
      this.#pendingRemovals = [];
      for (const file of removals) this.#disk.remove(file);
    }
    return result;
  }

  /** Runs one autocommit statement, retrying while the database is busy when `retry` is set. */
  #autocommit<T>(retry: boolean, writtenFile: string | null, run: () => T): T {
    if (this.#depth > 0) {
      if (writtenFile !== null) this.#written.push(writtenFile);
      return run();
    }
    for (;;) {
      try {
        return run();
      } catch (error) {
        if (!isBusy(error) || !retry) {
          if (writtenFile !== null) this.#disk.remove(writtenFile);
          throw isBusy(error) ? this.#timeoutError(error) : error;
        }
      }
    }
  }

  /** Deletes a value file now, or after the open transaction commits. */
  #removeLater(filename: unknown): void {
    if (typeof filename !== 'string') return;
    if (this.#depth > 0) this.#pendingRemovals.push(filename);
    else this.#disk.remove(filename);
  }

  /**
   * Runs `fn` inside one write transaction and returns its result: every cache operation inside
   * is atomic as a whole for other processes. Re-entrant; `fn` must be synchronous.
   * @example cache.transact(() => { const n = cache.get('n') ?? 0; cache.set('n', n + 1); });
   */
  transact<T>(fn: () => T, options: { retry?: boolean } = {}): T {
    if (typeof fn !== 'function') throw new TypeError('transact(fn): fn must be a function');
    return this.#write(options.retry ?? false, null, () => {
      const result = fn();
      if (isThenable(result)) {
        throw new TypeError(
          'transact(fn): fn must be synchronous (a transaction cannot stay open across an await); the transaction was rolled back',
        );
      }
      return result;
    });
  }

  // ---- culling --------------------------------------------------------------------------------

  /** After a write: cull if the statement's `cullInfo` columns say expired entries or too much volume. */
  #cullAfter(info: Row, offset: number, now: number): void {
    if (this.#cullLimit === 0) return;
    const minExpire = info[offset] as number | null;
    const expired = minExpire !== null && minExpire < now;
    if (!expired && !this.#overSizeLimit()) return;
    if (this.#depth > 0) {
      this.#cull(now);
      return;
    }
    try {
      this.#write(false, null, () => this.#cull(now));
    } catch (error) {
      // The write itself committed; the limit is soft and the next write culls again.
      if (!(error instanceof Timeout)) throw error;
    }
  }

  /**
   * Whether `volume()` reached `sizeLimit`, for cull-on-write after an inline write. Reading the
   * volume (page count and file sizes) on every write would cost more than the write's own
   * statement, so it is read every VOLUME_CHECK_INTERVAL inline writes of this object — and on
   * every one once it is within 10% of the limit. An inline value is under `minFileSize`, so this
   * lets the cache overshoot by at most that many small values per process; writes of values in
   * files always check (in `#cull`).
   */
  #overSizeLimit(): boolean {
    if (this.#policy.order === null) return false;
    if (
      ++this.#writesSinceVolume >= VOLUME_CHECK_INTERVAL ||
      this.#lastVolume >= this.#sizeLimit * 0.9
    ) {
      this.#writesSinceVolume = 0;
      this.#lastVolume = this.volume();
    }
    return this.#lastVolume >= this.#sizeLimit;
  }

  /** diskcache's `_cull`, inside a transaction: up to cullLimit expired entries, then by policy. */
  #cull(now: number): void {
    let limit = this.#cullLimit;
    if (limit === 0) return;
    const expired = this.#s.cullExpired.all(now, limit) as (string | null)[];
    for (const file of expired) this.#removeLater(file);
    limit -= expired.length;
    if (limit <= 0 || this.#s.cullPolicy === null || this.volume() < this.#sizeLimit) return;
    for (const file of this.#s.cullPolicy.all(limit) as (string | null)[]) this.#removeLater(file);
  }

  // ---- reading --------------------------------------------------------------------------------

  /** Turns a row's (mode, filename, value) into the value; `undefined` if its file is gone. */
  #fetch(
    mode: number,
    filename: string | null,
    value: unknown,
    dbKey: DbValue,
    raw: number,
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
      return this.#disk.fetch(mode, filename, value as DbValue);
    } catch (error) {
      if (isMissingFile(error)) return undefined;
      throw error;
    }
  }

  /** One lookup row: [mode, filename, value, expire_time, tag], counting statistics. */
  #lookup(dbKey: DbValue, raw: number, retry: boolean): Row | undefined {
    const now = Date.now() / 1000;
    const s = this.#s;
    if (!this.#statistics) {
      if (s.getAccess === null) return s.getEntry.get(dbKey, raw, now) as Row | undefined;
      const getAccess = s.getAccess;
      return this.#autocommit(retry, null, () => returning(getAccess, now, dbKey, raw, now));
    }
    return this.#write(retry, null, () => {
      const row = (
        s.getAccess ? s.getAccess.get(now, dbKey, raw, now) : s.getEntry.get(dbKey, raw, now)
      ) as Row | undefined;
      (row ? s.hit : s.miss).run();
      return row;
    });
  }

  /**
   * The value of `key`, or `options.default` (undefined) when it is missing or expired.
   * Never returns an expired value. With statistics or an LRU/LFU policy a get takes the write lock.
   */
  get<V = unknown, D = undefined>(key: unknown, options?: GetOptions<D>): V | D {
    const [dbKey, raw] = this.#disk.put(key);
    let row: Row | undefined;
    if (this.#statistics || this.#policy.access !== null)
      row = this.#lookup(dbKey, raw, options?.retry ?? false);
    else row = this.#s.get.get(dbKey, raw, Date.now() / 1000) as Row | undefined;
    if (row === undefined) return options?.default as D;
    const value = this.#fetch(row[0] as number, row[1] as string | null, row[2], dbKey, raw);
    return (value === undefined ? options?.default : value) as V | D;
  }

  /** The entry of `key` with its expiry time and tag (diskcache's `get(expire_time=True, tag=True)`). */
  getEntry<V = unknown>(key: unknown, options?: { retry?: boolean }): Entry<V> | undefined {
    const [dbKey, raw] = this.#disk.put(key);
    const row = this.#lookup(dbKey, raw, options?.retry ?? false);
    if (row === undefined) return undefined;
    const value = this.#fetch(row[0] as number, row[1] as string | null, row[2], dbKey, raw);
    if (value === undefined) return undefined;
    let tag = row[4];
    // better-sqlite3 read an INTEGER tag beyond 2**53 as an inexact number: read it exactly.
    if (typeof tag === 'number' && Number.isInteger(tag) && !Number.isSafeInteger(tag))
      tag = this.#s.exactTag.get(dbKey, raw);
    return { key, value: value as V, expireTime: readTime(row[3]), tag: readTag(tag) };
  }

  /** Whether `key` is present and not expired. Takes no lock and counts no statistics. */
  has(key: unknown): boolean {
    const [dbKey, raw] = this.#disk.put(key);
    return this.#s.has.get(dbKey, raw, Date.now() / 1000) !== undefined;
  }

  /**
   * A stream of the value of `key` (bytes; strings as UTF-8). Values in files are streamed from
   * the file, which stays readable even if the entry is deleted meanwhile.
   * @throws KeyError when the key is missing or expired.
   */
  read(key: unknown): Readable {
    const [dbKey, raw] = this.#disk.put(key);
    const row = this.#s.get.get(dbKey, raw, Date.now() / 1000) as Row | undefined;
    if (row === undefined) throw new KeyError(key);
    const [mode, filename] = row as [number, string | null];
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
    const value = this.#fetch(mode, filename, row[2], dbKey, raw);
    if (value === undefined) throw new KeyError(key);
    if (typeof value === 'string') return Readable.from([Buffer.from(value, 'utf8')]);
    if (value instanceof Uint8Array) return Readable.from([value]);
    throw new TypeError(
      `read(key): the value is a ${typeof value}, not bytes or a string; use get()`,
    );
  }

  // ---- writing --------------------------------------------------------------------------------

  /**
   * Writes a row for an already stored value in one transaction: the general path of set, add
   * (`onlyIfAbsent`: not over a live entry; returns false then) and setStream.
   */
  #storeRow(
    dbKey: DbValue,
    raw: number,
    stored: StoredValue,
    expireTime: number | null,
    tag: DbValue,
    now: number,
    retry: boolean,
    onlyIfAbsent = false,
  ): boolean {
    return this.#write(retry, stored.filename, () => {
      const s = this.#s;
      const existing = s.selectRow.get(dbKey, raw) as Row | undefined;
      if (existing) {
        const oldExpire = existing[2] as number | null;
        if (onlyIfAbsent && (oldExpire === null || oldExpire > now)) {
          // add() of a live key: nothing is written, so the new value file goes at once.
          if (stored.filename !== null) {
            this.#written = this.#written.filter((file) => file !== stored.filename);
            this.#disk.remove(stored.filename);
          }
          return false;
        }
        const { size, mode, filename, dbValue } = stored;
        s.updateRow.run(now, expireTime, now, tag, size, mode, filename, dbValue, existing[0]);
        this.#removeLater(existing[1]);
      } else {
        const { size, mode, filename, dbValue } = stored;
        s.insertRow.run(dbKey, raw, now, expireTime, now, tag, size, mode, filename, dbValue);
      }
      this.#cull(now);
      return true;
    });
  }

  /**
   * Stores `value` under `key` (replacing any value, tag and expiry; insertion order is kept).
   * @throws TypeError for an invalid key or value; Timeout when the write lock cannot be had.
   */
  set(key: unknown, value: unknown, options?: SetOptions): boolean {
    const [dbKey, raw] = this.#disk.put(key);
    const stored = this.#disk.store(value, key);
    const now = Date.now() / 1000;
    const expireTime = options?.expire == null ? null : expireAt(now, options.expire);
    const tag = options?.tag == null ? null : bindTag(options.tag);
    const retry = options?.retry ?? false;
    if (stored.filename === null) {
      // One statement: insert, or update in place when the old value has no file to delete.
      const s = this.#s;
      const { mode, dbValue } = stored;
      const info = this.#autocommit(
        retry,
        null,
        () =>
          (expireTime === null
            ? returning(s.setInlineNoExpiry, dbKey, raw, now, now, tag, mode, dbValue)
            : undefined) ??
          returning(s.setInline, dbKey, raw, now, expireTime, now, tag, mode, dbValue),
      ) as Row | undefined;
      if (info !== undefined) {
        this.#cullAfter(info, 0, now);
        return true;
      }
    }
    this.#storeRow(dbKey, raw, stored, expireTime, tag, now, retry);
    return true;
  }

  /** Streams `readable` into a value file and stores it under `key` (read back as a Buffer). */
  async setStream(
    key: unknown,
    readable: NodeJS.ReadableStream | Readable,
    options?: SetOptions,
  ): Promise<boolean> {
    const [dbKey, raw] = this.#disk.put(key);
    const { relative, full } = this.#disk.filename(key);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    try {
      await pipeline(readable, fs.createWriteStream(full, { flags: 'wx' }));
    } catch (error) {
      this.#disk.remove(relative);
      throw error;
    }
    const size = fs.statSync(full).size;
    const now = Date.now() / 1000;
    const stored: StoredValue = { size, mode: MODE_BINARY, filename: relative, dbValue: null };
    this.#storeRow(
      dbKey,
      raw,
      stored,
      expireAt(now, options?.expire),
      bindTag(options?.tag),
      now,
      options?.retry ?? false,
    );
    return true;
  }

  /**
   * Stores `value` only if `key` is absent or expired. Atomic across processes: of concurrent
   * adds of one key exactly one returns true.
   */
  add(key: unknown, value: unknown, options?: SetOptions): boolean {
    const [dbKey, raw] = this.#disk.put(key);
    const stored = this.#disk.store(value, key);
    const now = Date.now() / 1000;
    const expireTime = expireAt(now, options?.expire);
    const tag = bindTag(options?.tag);
    const retry = options?.retry ?? false;
    const s = this.#s;
    if (stored.filename === null) {
      const info = this.#autocommit(retry, null, () =>
        returning(
          s.addInline,
          dbKey,
          raw,
          now,
          expireTime,
          now,
          tag,
          stored.mode,
          stored.dbValue,
          now,
        ),
      ) as Row | undefined;
      if (info !== undefined) {
        this.#cullAfter(info, 0, now);
        return true;
      }
    }
    return this.#storeRow(dbKey, raw, stored, expireTime, tag, now, retry, true);
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
    if (
      initial !== null &&
      initial !== undefined &&
      typeof initial !== 'number' &&
      typeof initial !== 'bigint'
    ) {
      throw new TypeError(
        `incr: default must be a number, a bigint or null, got ${typeof initial}`,
      );
    }
    const [dbKey, raw] = this.#disk.put(key);
    const s = this.#s;
    return this.#write(options?.retry ?? false, null, () => {
      const now = Date.now() / 1000;
      const row = s.selectRow.get(dbKey, raw) as Row | undefined;
      if (row === undefined || (row[2] !== null && (row[2] as number) <= now)) {
        if (initial === null || initial === undefined) throw new KeyError(key);
        const result = addNumbers(initial, delta);
        const bound =
          typeof result === 'number' && Number.isSafeInteger(result) ? BigInt(result) : result;
        if (row) {
          s.updateRow.run(now, null, now, null, 0, MODE_RAW, null, bound, row[0]);
          this.#removeLater(row[1]);
        } else {
          s.insertRow.run(dbKey, raw, now, null, now, null, 0, MODE_RAW, null, bound);
        }
        this.#cull(now);
        return typeof result === 'bigint' ? intToJs(result) : result;
      }
      if (Number(row[3]) === MODE_PICKLE && row[1] === null && this.#plainDisk) {
        // A bigint below 2**53 is serialized so that it reads back as a bigint: add in bigint
        // and store it the same way, keeping the type (and the expiry and tag, as for numbers).
        const current = this.#disk.fetch(MODE_PICKLE, null, row[4] as Buffer);
        if (typeof current === 'bigint') {
          if (typeof delta === 'number' && !Number.isInteger(delta)) {
            throw new TypeError(
              `incr: a bigint value can only be incremented by an integer, got ${delta}`,
            );
          }
          const result = current + BigInt(delta);
          const stored = this.#disk.store(result);
          s.incrStored.run(stored.dbValue, stored.mode, now, now, row[0]);
          return result;
        }
      }
      if (Number(row[3]) !== MODE_RAW || (row[5] !== 'integer' && row[5] !== 'real')) {
        throw new TypeError(`incr: the value stored under this key is not a number`);
      }
      // A REAL stays a REAL (Python's 5.0 + 1 is 6.0): a JS number binds as REAL.
      const result = row[5] === 'real' ? Number(row[4]) + Number(delta) : addNumbers(row[4], delta);
      s.incrUpdate.run(result, now, now, row[0]);
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
    return this.#autocommit(
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
    const rows = this.#autocommit(options?.retry ?? false, null, () =>
      s.delete.all(dbKey, raw, now),
    );
    if (rows.length === 0) return false;
    this.#removeLater(rows[0]);
    return true;
  }

  /** Removes `key` and returns its entry, or undefined when it is missing or expired. */
  popEntry<V = unknown>(key: unknown, options?: { retry?: boolean }): Entry<V> | undefined {
    const [dbKey, raw] = this.#disk.put(key);
    const now = Date.now() / 1000;
    const s = this.#s;
    const row = this.#autocommit(options?.retry ?? false, null, () =>
      returning(s.pop, dbKey, raw, now),
    );
    if (row === undefined) return undefined;
    const value = this.#fetch(Number(row[0]), row[1] as string | null, row[2], dbKey, raw);
    this.#removeLater(row[1]);
    if (value === undefined) return undefined;
    return { key, value: value as V, expireTime: readTime(row[3]), tag: readTag(row[4]) };
  }

  /** Removes `key` and returns its value, or `options.default` when it is missing or expired. */
  pop<V = unknown, D = undefined>(key: unknown, options?: { default?: D; retry?: boolean }): V | D {
    const entry = this.popEntry<V>(key, options);
    return entry === undefined ? (options?.default as D) : entry.value;
  }

  // ---- queue ----------------------------------------------------------------------------------

  #queueBounds(prefix: string | null | undefined): readonly [DbValue, DbValue] {
    if (prefix === undefined || prefix === null) return QUEUE_BOUNDS;
    if (typeof prefix !== 'string')
      throw new TypeError(`prefix must be a string, got ${typeof prefix}`);
    return [`${prefix}-000000000000000`, `${prefix}-999999999999999`];
  }

  /**
   * Pushes `value` onto a queue kept in the cache and returns its new key: integers from
   * 500000000000000 without a prefix, strings `prefix-500000000000000` with one.
   */
  push(value: unknown, options?: QueueOptions & SetOptions): string | number | bigint {
    const side = checkSide(options?.side, 'back');
    const prefix = options?.prefix ?? null;
    const [min, max] = this.#queueBounds(prefix);
    const stored = this.#disk.store(value);
    const now = Date.now() / 1000;
    const expireTime = expireAt(now, options?.expire);
    const tag = bindTag(options?.tag);
    const statement = this.#queueStatement('push', prefix !== null, side);
    const { size, mode, filename, dbValue } = stored;
    const row = this.#autocommit(options?.retry ?? false, filename, () =>
      prefix === null
        ? returning(statement, min, max, now, expireTime, now, tag, size, mode, filename, dbValue)
        : returning(
            statement,
            prefix,
            min,
            max,
            BigInt(prefix.length + 2),
            now,
            expireTime,
            now,
            tag,
            size,
            mode,
            filename,
            dbValue,
          ),
    ) as Row;
    this.#cullAfter(row, 1, now);
    return typeof row[0] === 'bigint' ? intToJs(row[0]) : (row[0] as string | number);
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
    const side = checkSide(options?.side, 'back');
    const prefix = options?.prefix ?? null;
    const [min, max] = this.#queueBounds(prefix);
    const now = Date.now() / 1000;
    const expireTime = expireAt(now, options?.expire);
    const tag = bindTag(options?.tag);
    const stored: StoredValue[] = [];
    try {
      for (const value of values) stored.push(this.#disk.store(value));
    } catch (error) {
      for (const item of stored) if (item.filename !== null) this.#disk.remove(item.filename);
      throw error;
    }
    if (stored.length === 0) return [];
    const files = stored.flatMap((item) => (item.filename === null ? [] : [item.filename]));
    const endStatement = this.#queueStatement('peek', prefix !== null, side);
    const step = side === 'back' ? 1n : -1n;
    let inTransaction = false;
    try {
      return this.#write(options?.retry ?? false, null, () => {
        inTransaction = true;
        this.#written.push(...files); // deleted if the transaction rolls back
        const end = endStatement.get(min, max) as Row | undefined;
        let next: bigint;
        if (end === undefined) next = QUEUE_START;
        else if (prefix === null) next = (end[0] as bigint) + step;
        else next = BigInt((end[0] as string).slice(prefix.length + 1)) + step;
        const keys: (string | number | bigint)[] = [];
        const params: unknown[] = [];
        const insertBatch = this.#insertBatchStatement();
        for (const item of stored) {
          const dbKey = prefix === null ? next : `${prefix}-${next.toString().padStart(15, '0')}`;
          params.push(
            dbKey,
            1n,
            now,
            expireTime,
            now,
            tag,
            item.size,
            item.mode,
            item.filename,
            item.dbValue,
          );
          keys.push(typeof dbKey === 'bigint' ? intToJs(dbKey) : dbKey);
          next += step;
          // One statement per BATCH rows: half the cost of a statement per row.
          if (params.length === BATCH * 10) insertBatch.run(...params.splice(0));
        }
        for (let at = 0; at < params.length; at += 10)
          this.#s.insertRow.run(...params.slice(at, at + 10));
        this.#cull(now);
        return keys;
      });
    } catch (error) {
      if (!inTransaction) for (const file of files) this.#disk.remove(file);
      throw error;
    }
  }

  /** A multi-row INSERT of BATCH rows (prepared on first use by pushMany). */
  #insertBatchStatement(): Statement {
    return insertBatchStatement(this.#db, this.#s);
  }

  #queueEntry(row: Row): Entry | undefined | null {
    // row: key, expire_time, tag, mode, filename, value, rowid. null: the value file is gone.
    const key = row[0] as DbValue;
    const value = this.#fetch(Number(row[3]), row[4] as string | null, row[5], key, 1);
    if (value === undefined) return null;
    return {
      key: typeof key === 'bigint' ? intToJs(key) : key,
      value,
      expireTime: readTime(row[1]),
      tag: readTag(row[2]),
    };
  }

  /** Removes and returns the entry at one end of a queue (default: the front); undefined when empty. */
  pull<V = unknown>(options?: QueueOptions): Entry<V> | undefined {
    const side = checkSide(options?.side, 'front');
    const [min, max] = this.#queueBounds(options?.prefix);
    const statement = this.#queueStatement('pull', options?.prefix != null, side);
    for (;;) {
      const row = this.#autocommit(options?.retry ?? false, null, () =>
        returning(statement, min, max),
      );
      if (row === undefined) return undefined;
      const expired = row[1] !== null && (row[1] as number) < Date.now() / 1000;
      const entry = expired ? null : this.#queueEntry(row);
      this.#removeLater(row[4]);
      if (entry) return entry as Entry<V>;
    }
  }

  /** The entry at one end of a queue without removing it (expired ones met there are removed). */
  peek<V = unknown>(options?: QueueOptions): Entry<V> | undefined {
    const side = checkSide(options?.side, 'front');
    const [min, max] = this.#queueBounds(options?.prefix);
    const statement = this.#queueStatement('peek', options?.prefix != null, side);
    return this.#write(options?.retry ?? false, null, () => {
      for (;;) {
        const row = statement.get(min, max) as Row | undefined;
        if (row === undefined) return undefined;
        const expired = row[1] !== null && (row[1] as number) < Date.now() / 1000;
        const entry = expired ? null : this.#queueEntry(row);
        if (entry) return entry as Entry<V>;
        this.#s.deleteRowid.run(row[6]);
        this.#removeLater(row[4]);
      }
    });
  }

  /** The first (`last: false`) or last inserted entry; expired ones met there are removed. */
  peekItem<V = unknown>(options?: { last?: boolean; retry?: boolean }): Entry<V> | undefined {
    const statement = options?.last === false ? this.#s.peekItemFirst : this.#s.peekItemLast;
    return this.#write(options?.retry ?? false, null, () => {
      for (;;) {
        // row: rowid, key, raw, expire_time, tag, mode, filename, value
        const row = statement.get() as Row | undefined;
        if (row === undefined) return undefined;
        const expired = row[3] !== null && (row[3] as number) < Date.now() / 1000;
        const value = expired
          ? undefined
          : this.#fetch(
              Number(row[5]),
              row[6] as string | null,
              row[7],
              row[1] as DbValue,
              Number(row[2]),
            );
        if (value !== undefined) {
          return {
            key: this.#disk.get(row[1] as DbValue, Number(row[2])),
            value: value as V,
            expireTime: readTime(row[3]),
            tag: readTag(row[4]),
          };
        }
        this.#s.deleteRowid.run(row[0]);
        this.#removeLater(row[6]);
      }
    });
  }

  // ---- iteration ------------------------------------------------------------------------------

  /**
   * Keys in insertion order (`reverse`: newest first), including expired ones not yet culled.
   * Read in pages: safe while other processes write; entries added after it is created are not seen.
   */
  keys(options?: { reverse?: boolean }): Generator<unknown> {
    // The bound is read now, not at the first next(): as in diskcache, an iterator never sees
    // entries added after it was created (and one created on an empty cache stays empty).
    return this.#keysUpTo(
      this.#s.maxRowid.get() as bigint | number | null,
      options?.reverse ?? false,
    );
  }

  *#keysUpTo(bound: bigint | number | null, reverse: boolean): Generator<unknown> {
    const s = this.#s;
    if (bound === null || bound === undefined) return;
    if (reverse) {
      let below: bigint | number = BigInt(bound) + 1n;
      for (;;) {
        const rows = s.keysBackward.all(below) as Row[];
        for (const row of rows) yield this.#disk.get(row[1] as DbValue, Number(row[2]));
        if (rows.length < BATCH) return;
        below = rows[rows.length - 1]![0] as bigint;
      }
    }
    let after: bigint | number = 0;
    for (;;) {
      const rows = s.keysForward.all(after, bound) as Row[];
      for (const row of rows) yield this.#disk.get(row[1] as DbValue, Number(row[2]));
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]![0] as bigint;
    }
  }

  [Symbol.iterator](): Generator<unknown> {
    return this.keys();
  }

  /** `[key, value]` pairs of live entries in insertion order. */
  entries<V = unknown>(): Generator<[unknown, V]> {
    return this.#entriesUpTo<V>(this.#s.maxRowid.get() as bigint | number | null);
  }

  *#entriesUpTo<V>(bound: bigint | number | null): Generator<[unknown, V]> {
    const s = this.#s;
    if (bound === null || bound === undefined) return;
    let after: bigint | number = 0;
    for (;;) {
      const rows = s.entriesForward.all(after, bound) as Row[];
      const now = Date.now() / 1000;
      for (const row of rows) {
        // row: rowid, key, raw, expire_time, mode, filename, value
        if (row[3] !== null && (row[3] as number) <= now) continue;
        const value = this.#fetch(
          Number(row[4]),
          row[5] as string | null,
          row[6],
          row[1] as DbValue,
          Number(row[2]),
        );
        if (value !== undefined)
          yield [this.#disk.get(row[1] as DbValue, Number(row[2])), value as V];
      }
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1]![0] as bigint;
    }
  }

  /**
   * Keys in SQLite's sort order of (key, raw): numbers, then strings, then bytes and structured
   * keys. Includes expired keys. Not a snapshot.
   */
  *iterKeys(options?: { reverse?: boolean }): Generator<unknown> {
    const s = this.#s;
    const reverse = options?.reverse ?? false;
    let rows = (reverse ? s.sortedLast : s.sortedFirst).all() as Row[];
    for (;;) {
      for (const row of rows) yield this.#disk.get(row[0] as DbValue, Number(row[1]));
      if (rows.length < BATCH) return;
      const last = rows[rows.length - 1]!;
      rows = (reverse ? s.sortedPrevious : s.sortedNext).all(last[0], last[1]) as Row[];
    }
  }

  // ---- removal in batches ---------------------------------------------------------------------

  /** Runs a batch DELETE until it removes less than a batch; Timeout carries the partial count. */
  #removeBatches(statement: Statement, params: unknown[], retry: boolean, count = 0): number {
    for (;;) {
      let files: (string | null)[];
      try {
        files = this.#autocommit(retry, null, () => statement.all(...params)) as (string | null)[];
      } catch (error) {
        if (error instanceof Timeout)
          throw new Timeout(error.message, { cause: error.cause, count });
        throw error;
      }
      count += files.length;
      for (const file of files) this.#removeLater(file);
      if (files.length < BATCH) return count;
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
    while (this.volume() > this.#sizeLimit) {
      const removed = this.#removeBatchOnce(cullPolicy, retry, count);
      if (removed === 0) break;
      count += removed;
    }
    return count;
  }

  #removeBatchOnce(statement: Statement, retry: boolean, count: number): number {
    let files: (string | null)[];
    try {
      files = this.#autocommit(retry, null, () => statement.all(10)) as (string | null)[];
    } catch (error) {
      if (error instanceof Timeout) throw new Timeout(error.message, { cause: error.cause, count });
      throw error;
    }
    for (const file of files) this.#removeLater(file);
    return files.length;
  }

  // ---- maintenance ----------------------------------------------------------------------------

  /**
   * Checks the database and the value files; with `fix`, repairs what it finds (and VACUUMs).
   * Holds the write lock during the scan.
   */
  check(options?: { fix?: boolean; retry?: boolean }): CheckWarning[] {
    const fix = options?.fix ?? false;
    return runCheck(this.#db, this.#disk, fix, (body) =>
      this.#write(options?.retry ?? false, null, body),
    );
  }

  /**
   * Hit and miss counts. `reset: true` zeroes them after reading; `enable` turns counting on or
   * off (left as it is when omitted).
   */
  stats(options?: { enable?: boolean; reset?: boolean }): { hits: number; misses: number } {
    const [hits, misses] = this.#s.stats.get() as [number, number];
    if (options?.reset) this.#autocommit(true, null, () => this.#s.resetStats.run());
    if (options?.enable !== undefined) this.reset('statistics', options.enable ? 1 : 0);
    return { hits: Number(hits), misses: Number(misses) };
  }

  /** Bytes on disk: database pages plus value files (the WAL file is not counted). */
  volume(): number {
    const [pages, size] = this.#s.volume.get() as [number, number];
    return pages * this.#pageSize + Number(size);
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
    if (typeof setting !== 'string')
      throw new TypeError(`reset(setting): setting must be a string, got ${typeof setting}`);
    const name = SETTING_ALIASES[setting] ?? setting;
    if (value === undefined) {
      const row = this.#s.readSetting.get(name) as [SettingValue] | undefined;
      if (row === undefined)
        throw new KeyError(setting, `unknown setting ${JSON.stringify(setting)}`);
      this.#settings[name] = row[0];
      if (name in SETTING_ALIASES || Object.values(SETTING_ALIASES).includes(name))
        this.#applySettings();
      return row[0];
    }
    let stored: SettingValue = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    const option = Object.entries(SETTING_ALIASES).find(
      ([, diskcacheName]) => diskcacheName === name,
    )?.[0];
    if (option) {
      const optionValue =
        option === 'statistics' || option === 'tagIndex' ? Boolean(stored) : stored;
      if ((option === 'statistics' || option === 'tagIndex') && stored !== 0 && stored !== 1) {
        throw new TypeError(`${option} must be a boolean (or 0/1), got ${String(value)}`);
      }
      const checked = optionsToSettings({ [option]: optionValue } as CacheOptions);
      stored = checked[name] ?? stored;
    }
    if (name.startsWith('sqlite_')) applyPragma(this.#db, name, stored);
    this.#autocommit(true, null, () => this.#s.writeSetting.run(name, bindSetting(stored)));
    if (name === 'eviction_policy') {
      const init = POLICIES[stored as EvictionPolicy].init;
      if (init) this.#autocommit(true, null, () => this.#db.exec(init));
    }
    if (name === 'tag_index') {
      const sql = stored
        ? 'CREATE INDEX IF NOT EXISTS Cache_tag_rowid ON Cache(tag, rowid)'
        : 'DROP INDEX IF EXISTS Cache_tag_rowid';
      this.#autocommit(true, null, () => this.#db.exec(sql));
    }
    this.#settings[name] = stored;
    this.#applySettings();
    return stored;
  }

  // ---- memoize --------------------------------------------------------------------------------

  /**
   * A decorator that keeps a function's results in this cache, keyed by its name and arguments.
   * Works for sync and async functions; concurrent calls of an async function with the same
   * arguments share one computation in this process. Exceptions are not cached, nor is undefined.
   * @example const slowSquare = cache.memoize({ expire: 60 })(function slowSquare(n: number) { return n * n; });
   */
  memoize(
    options?: MemoizeOptions,
  ): <F extends (...args: never[]) => unknown>(fn: F) => Memoized<F> {
    const checked = checkMemoizeOptions(options);
    return (fn) => memoizeFunction(this, checked, fn as never) as never;
  }

  // ---- lifecycle and properties ---------------------------------------------------------------

  /** The cache directory (absolute). */
  get directory(): string {
    return this.#directory;
  }

  /** Seconds to wait for the write lock. */
  get timeout(): number {
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

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the database connection. Further calls on this object throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
