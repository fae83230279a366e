/**
 * read-cache: the in-process read cache of a Cache object — rows of entries that no process has
 * changed since they were read, answered from memory.
 *
 * Validation. Before every use the cache asks whether any connection (another process, another
 * Cache object, another thread) has committed since the rows were read; if so, every row is
 * dropped. The question is answered, when it can be, by comparing the WAL-index header in
 * `cache.db-shm` (rewritten by every commit) with a copy, through a read-only mapping made by the
 * native addon (shm.ts: no SQLite call at all); otherwise by SQLite's `PRAGMA data_version` (one
 * cheap statement): without the addon (not built, or `DISKCACHE_NATIVE=off`), in a journal mode
 * other than WAL, or with locking_mode exclusive. `validator` says which. This connection's own
 * writes change neither: the Transactor calls `invalidate()` before each of them.
 * (An earlier attempt read the header with pread and closed its fd: closing any fd of `-shm`
 * drops every POSIX lock this process holds on it, SQLite's included, and other connections then
 * reset the WAL index under live writers, which corrupts the database. shm.ts never closes it.)
 * What is kept: the row of a live inline entry (mode, value, expiry, tag; values in files are not
 * kept) and "missing" for keys that were absent. Values are kept as the stored bytes and decoded
 * per call; Buffers are copied on the way in and on the way out, so a caller can never change the
 * cache through a returned object. Bounded by entries and bytes: the oldest row goes first.
 * When the rows are dropped before they are read again (other processes commit between most of
 * this object's reads), keeping them costs more than it saves: after a window of lookups that
 * found under a quarter of their rows, the cache stands aside for a while (reads go to SQLite, as
 * with `readCache: false`), then tries again.
 * It holds no statements other than the validator's; the Cache decides when it may be used
 * (never inside a transaction, never with statistics or an LRU/LFU policy).
 */
import type Database from 'better-sqlite3';
import { checkInteger, checkOptions } from './checks.js';
import type { DbValue } from './disk.js';
import { describeValue } from './errors.js';
import { ShmValidator } from './shm.js';
import type { EntryRow } from './statements.js';

/** Limits of the read cache (`readCache` option of a Cache). */
export interface ReadCacheOptions {
  /** Most rows kept (present and missing keys). @default 4096 */
  readonly entries?: number;
  /** Most bytes of keys and values kept (approximate: strings count 2 bytes a character). @default 8388608 (8 MiB) */
  readonly bytes?: number;
}

/** The limits in force. */
export interface ReadCacheLimits {
  readonly entries: number;
  readonly bytes: number;
}

export const DEFAULT_READ_CACHE: ReadCacheLimits = Object.freeze({
  entries: 4096,
  bytes: 8 * 1024 * 1024,
});

/** Validates the `readCache` option: the limits, or null when it is off. */
export function checkReadCacheOption(value: unknown): ReadCacheLimits | null {
  if (value === undefined || value === true) return DEFAULT_READ_CACHE;
  if (value === false || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new TypeError(
      `readCache must be false or an object {entries, bytes}, got ${describeValue(value)}`,
    );
  checkOptions(value as object, ['entries', 'bytes'], { where: 'readCache' });
  const { entries, bytes } = value as ReadCacheOptions;
  return {
    entries:
      entries === undefined
        ? DEFAULT_READ_CACHE.entries
        : checkInteger('readCache.entries', entries, { min: 1 }),
    bytes:
      bytes === undefined
        ? DEFAULT_READ_CACHE.bytes
        : checkInteger('readCache.bytes', bytes, { min: 1 }),
  };
}

/** A kept row, or null for a key that was missing. */
export type CachedRow = EntryRow | null;

/** Which check the read cache validates its rows with (see the header). */
export type ReadCacheValidator = 'shm' | 'data_version';

/** Says whether any other connection committed since the last call (true on the first call). */
interface Validator {
  changed(): boolean;
  release?(): void;
}

/** `PRAGMA data_version`: the validator without the addon. */
class DataVersion implements Validator {
  readonly #statement: Database.Statement<[], number>;
  #last = -1;

  constructor(db: Database.Database) {
    this.#statement = db.prepare<[], number>('PRAGMA data_version').pluck(true);
  }

  changed(): boolean {
    const version = this.#statement.get()!;
    if (version === this.#last) return false;
    this.#last = version;
    return true;
  }
}

function copyBuffer(value: DbValue): DbValue {
  return Buffer.isBuffer(value) ? Buffer.from(value) : value;
}

function sizeOf(value: DbValue): number {
  if (typeof value === 'string') return value.length * 2;
  if (Buffer.isBuffer(value)) return value.length;
  return 8;
}

/** Lookups per window of the hit-rate check; reads bypassed after a poor window (doubling). */
const WINDOW = 64;
const BYPASS_FIRST = 256;
const BYPASS_MAX = 8192;

/** A kept row and the bytes it was counted for. */
interface Kept {
  readonly row: CachedRow;
  readonly bytes: number;
}

/** The read cache of one Cache object (one connection). */
export class ReadCache {
  readonly #limits: ReadCacheLimits;
  readonly #db: Database.Database;
  readonly #file: string;
  #validator: Validator;
  #validatorKind: ReadCacheValidator = 'data_version';
  /** Rows of string keys (raw = 1), by the key itself. */
  readonly #strings = new Map<string, Kept>();
  /** Rows of other keys: numbers and bigints as themselves, byte keys as 'b'/'o' + latin1. */
  readonly #others = new Map<unknown, Kept>();
  #bytes = 0;
  /** Set by this connection's own writes: the rows may be stale although no other connection committed. */
  #stale = true;
  /** Lookups in the current window, and how many found a row. */
  #lookups = 0;
  #found = 0;
  /** Reads left that bypass the cache (it stood aside), and the next pause's length. */
  #bypass = 0;
  #pause = BYPASS_FIRST;

  /** `db` is the Cache's connection, opened on `file` (cache.db) and already used to read. */
  constructor(db: Database.Database, file: string, limits: ReadCacheLimits) {
    this.#limits = limits;
    this.#db = db;
    this.#file = file;
    this.#validator = this.#chooseValidator();
  }

  #chooseValidator(): Validator {
    const shm = ShmValidator.open(this.#db, this.#file);
    this.#validatorKind = shm === null ? 'data_version' : 'shm';
    return shm ?? new DataVersion(this.#db);
  }

  /**
   * Chooses the validator again (the journal or locking mode may have changed with the settings)
   * and drops every row.
   */
  configure(): void {
    this.#validator.release?.();
    this.#validator = this.#chooseValidator();
    this.#stale = true;
  }

  /** The validator in use. */
  get validator(): ReadCacheValidator {
    return this.#validatorKind;
  }

  /** Drops every row before the next lookup (this connection is about to write). */
  invalidate(): void {
    this.#stale = true;
  }

  /**
   * Whether this read should use the cache: false while it stands aside (see the header). Then
   * call `validate` and `lookup`.
   */
  use(): boolean {
    if (this.#bypass === 0) return true;
    this.#bypass--;
    return false;
  }

  /** Drops every row now if anything was committed since they were read. Call before `lookup`. */
  validate(): void {
    // Both are evaluated: the validator must record the current state even when stale is set.
    if (this.#validator.changed() || this.#stale) {
      this.#stale = false;
      if (this.#strings.size > 0) this.#strings.clear();
      if (this.#others.size > 0) this.#others.clear();
      this.#bytes = 0;
    }
  }

  /** The kept row of a key (null: known missing), or undefined when not kept. */
  lookup(dbKey: DbValue, raw: number): CachedRow | undefined {
    const kept =
      typeof dbKey === 'string' && raw === 1
        ? this.#strings.get(dbKey)
        : this.#others.get(otherKey(dbKey, raw));
    if (kept !== undefined) this.#found++;
    if (++this.#lookups === WINDOW) {
      if (this.#found * 4 < WINDOW) {
        this.#bypass = this.#pause;
        this.#pause = Math.min(this.#pause * 2, BYPASS_MAX);
      } else this.#pause = BYPASS_FIRST;
      this.#lookups = 0;
      this.#found = 0;
    }
    return kept?.row;
  }

  /**
   * Keeps the row read for a key after `validate()` (undefined: the key is missing). Values in
   * files are not kept. Buffers are copied: the caller keeps the row it read.
   */
  store(dbKey: DbValue, raw: number, row: EntryRow | undefined): void {
    let kept: CachedRow = null;
    let bytes = sizeOf(dbKey) + 64;
    if (row !== undefined) {
      const [mode, filename, value, expireTime, tag] = row;
      if (filename !== null) return;
      kept = [mode, null, copyBuffer(value), expireTime, copyBuffer(tag)];
      bytes += sizeOf(value) + sizeOf(tag);
    }
    const limits = this.#limits;
    if (bytes > limits.bytes) return;
    const strings = typeof dbKey === 'string' && raw === 1;
    const map: Map<unknown, Kept> = strings ? this.#strings : this.#others;
    const key = strings ? dbKey : otherKey(dbKey, raw);
    const old = map.get(key);
    if (old !== undefined) {
      map.delete(key);
      this.#bytes -= old.bytes;
    }
    while (
      this.#strings.size + this.#others.size >= limits.entries ||
      this.#bytes + bytes > limits.bytes
    ) {
      this.#evictOldest();
    }
    map.set(key, { row: kept, bytes });
    this.#bytes += bytes;
  }

  #evictOldest(): void {
    const map: Map<unknown, Kept> = this.#strings.size > 0 ? this.#strings : this.#others;
    const first = map.entries().next();
    if (first.done) {
      this.#bytes = 0;
      return;
    }
    map.delete(first.value[0]);
    this.#bytes -= first.value[1].bytes;
  }

  /** Rows kept now (for tests and diagnosis). */
  get size(): number {
    return this.#strings.size + this.#others.size;
  }

  close(): void {
    this.#validator.release?.();
    this.#strings.clear();
    this.#others.clear();
  }
}

/** The map key of a key that is not a raw string. */
function otherKey(dbKey: DbValue, raw: number): unknown {
  if (Buffer.isBuffer(dbKey)) return (raw === 1 ? 'b' : 'o') + dbKey.toString('latin1');
  return dbKey;
}
