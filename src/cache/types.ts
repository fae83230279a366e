/**
 * Public types of the engine: options, entries, keys. Time is in seconds everywhere in the core
 * API and on disk (epoch seconds for absolute times), exactly as python-diskcache does.
 */
import type { Seconds } from './checks.js';
import type { Disk } from './disk.js';
import type { ReadCacheOptions } from './read-cache.js';

/** Keys stored natively (as Python's diskcache stores them: TEXT, INTEGER, REAL, BLOB). */
export type NativeKey = string | number | bigint | Buffer | Uint8Array;

/**
 * A cache key: a native key, or a structured key made of arrays and plain objects of native keys,
 * `boolean` and `null`. Structured keys are encoded canonically: two deep-equal keys (object key
 * order ignored) are the same entry. `NaN`, `undefined`, functions and symbols are rejected.
 */
export type Key = NativeKey | boolean | null | readonly Key[] | { readonly [name: string]: Key };

/** The eviction policies of diskcache. */
export type EvictionPolicy =
  | 'least-recently-stored'
  | 'least-recently-used'
  | 'least-frequently-used'
  | 'none';

/** A tag: any SQLite scalar. Tags are compared with SQLite equality (1 matches 1.0). */
export type Tag = string | number | bigint | Buffer | null;

/** SQLite pragmas applied to every connection (persisted as `sqlite_*` settings). */
export interface SqliteOptions {
  /** `PRAGMA synchronous`: 0 OFF, 1 NORMAL, 2 FULL. @default 1 */
  readonly synchronous?: number;
  /** `PRAGMA journal_mode`. @default 'wal' */
  readonly journalMode?: string;
  /** `PRAGMA mmap_size` in bytes. @default 67108864 (64 MiB) */
  readonly mmapSize?: number;
  /** `PRAGMA cache_size` in pages (negative: KiB). @default 8192 */
  readonly cacheSize?: number;
  /** `PRAGMA auto_vacuum` (0 NONE, 1 FULL, 2 INCREMENTAL); only takes effect on a new database. @default 1 */
  readonly autoVacuum?: number;
  /**
   * `PRAGMA wal_autocheckpoint`: the WAL size in pages (4 KiB each) after which a commit copies it
   * back into the database, with two fsyncs; 0 turns automatic checkpoints off (then the WAL only
   * shrinks when something checkpoints it). Larger values make writes cheaper on average (fewer
   * checkpoints) at the cost of a larger WAL, longer pauses when a checkpoint does run, and, with
   * `synchronous: 1`, more recent commits that a power loss (not a process crash) can undo. Not
   * stored unless given: SQLite's default applies, as in Python diskcache. See docs/benchmarks.md.
   * @default 1000
   */
  readonly walAutocheckpoint?: number;
}

/** A constructor of a `Disk` (the serializer). Subclass `Disk` to change how keys and values are stored. */
export type DiskClass = new (directory: string, options: DiskOptions) => Disk;

/** Options handed to a `Disk` constructor: the `disk_*` settings, without the prefix. */
export interface DiskOptions {
  /** Values whose serialized size is at least this many bytes (characters for strings) go to files. */
  readonly minFileSize: number;
  /** Any other `disk_*` setting (for example `compress_level` for `JSONDisk`). */
  readonly [setting: string]: unknown;
}

/**
 * Options of `new Cache(directory, options)`. Every option is persisted in the `Settings` table
 * under diskcache's name (`sizeLimit` is `size_limit`), so later openers, in any language, inherit
 * it; an opener that passes an option overwrites it for everyone.
 */
export interface CacheOptions {
  /** Seconds to wait for the write lock before throwing `Timeout` (or retrying with `retry`). @default 60 */
  readonly timeout?: Seconds;
  /** The serializer class: `Disk` (default) or a subclass such as `JSONDisk`. */
  readonly disk?: DiskClass;
  /** Extra options for the Disk, persisted as `disk_<name>` (for example `{ compress_level: 6 }`). */
  readonly diskOptions?: Readonly<Record<string, string | number>>;
  /**
   * Soft limit of `volume()` in bytes. Writes cull at most `cullLimit` entries each, so the cache can
   * stay above the limit for a while. @default 1073741824 (1 GiB)
   */
  readonly sizeLimit?: number;
  /** Most entries removed by one write when culling; 0 turns culling on write off. @default 10 */
  readonly cullLimit?: number;
  /** Which entries go first when the cache is over `sizeLimit`. @default 'least-recently-stored' */
  readonly evictionPolicy?: EvictionPolicy;
  /** Count hits and misses (every get then takes the write lock). @default false */
  readonly statistics?: boolean;
  /** Keep an index on (tag, rowid) so that `evict(tag)` is fast. @default false */
  readonly tagIndex?: boolean;
  /** Values of at least this many bytes (characters for strings) are stored in files. @default 32768 */
  readonly minFileSize?: number;
  /** SQLite pragmas. */
  readonly sqlite?: SqliteOptions;
  /**
   * The in-process read cache (not persisted: each Cache object has its own): repeated `get`,
   * `getEntry` and `has` of entries no process has changed are answered from memory, validated
   * on every call against SQLite's commit counter (any commit by any process drops it). Used only
   * when `statistics` is off and the eviction policy is 'least-recently-stored' or 'none' (LRU and
   * LFU record every read in the database). `false` turns it off. A FanoutCache applies the
   * limits to each shard.
   * @default { entries: 4096, bytes: 8388608 }
   */
  readonly readCache?: ReadCacheOptions | false;
}

/** Options of `set`, `add` and `push`. */
export interface SetOptions {
  /** Seconds from now until the entry expires; `undefined` (or `null`) means never. */
  readonly expire?: Seconds | null;
  /** A tag for `evict(tag)`. */
  readonly tag?: Tag;
  /** Wait for the write lock as long as it takes instead of throwing `Timeout`. @default false */
  readonly retry?: boolean;
}

/** Options of `get`. */
export interface GetOptions<D = undefined> {
  /** Returned when the key is missing or expired. @default undefined */
  readonly default?: D;
  /** Wait for the write lock (statistics or LRU/LFU policies only) instead of throwing `Timeout`. */
  readonly retry?: boolean;
  /**
   * Return an `Undecodable` placeholder for a value this process cannot decode (another
   * language's object) instead of throwing `UnsupportedValueError`. @default false
   */
  readonly placeholder?: boolean;
}

/** An entry with its metadata, as returned by `getEntry`, `pull`, `peek`, `popEntry` and `peekItem`. */
export interface Entry<V = unknown> {
  readonly key: unknown;
  readonly value: V;
  /** Absolute expiry time in epoch seconds, or `null` for never. */
  readonly expireTime: number | null;
  readonly tag: Tag;
}

/** Queue options of `push`, `pull` and `peek`. */
export interface QueueOptions {
  /** With a prefix, keys are strings `prefix-000000000000123`; without, integers around 5e14. */
  readonly prefix?: string | null;
  /** Which end of the queue. @default 'back' for push, 'front' for pull/peek */
  readonly side?: 'back' | 'front';
  readonly retry?: boolean;
}

/** One problem found by `check()`. */
export interface CheckWarning {
  readonly kind:
    | 'integrity'
    | 'file-not-found'
    | 'wrong-file-size'
    | 'unknown-file'
    | 'empty-dir'
    | 'count'
    | 'size';
  readonly message: string;
  /** The value file or directory concerned, where there is one. */
  readonly path?: string;
}

/** Options of `memoize`. */
export interface MemoizeOptions {
  /** Name used in the cache key; defaults to the function's `name` (required when it has none). */
  readonly name?: string;
  /** Make arguments of different types (1 vs '1') different keys. @default false */
  readonly typed?: boolean;
  /** Seconds until a memoized result expires. @default undefined (never) */
  readonly expire?: Seconds | null;
  readonly tag?: Tag;
  /** Positions of arguments left out of the key. */
  readonly ignore?: Iterable<number>;
}
