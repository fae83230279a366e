/**
 * Disk: how keys and values become SQLite columns and value files, in python-diskcache's format.
 *
 * Keys: strings, numbers, in-range bigints and buffers are stored natively (TEXT, INTEGER, REAL,
 * BLOB with raw=1) so Python sees the same key; structured keys get a canonical encoding (raw=0).
 * Values: modes 1 (raw column), 2 (binary file), 3 (text file), 4 (serialized). Mode 4 is written
 * with v8's structured clone (PickleDisk: as pickle) and read as either, told apart by the first
 * byte (v8 always starts with 0xff); pickles are read by the data-only reader of pickle.ts, so
 * nothing read from disk can run code.
 * This file knows nothing of SQL statements or transactions; the Cache drives it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { storageError, UnsupportedValueError } from './errors.js';
import { loadPickle } from './pickle.js';
import { dumpPickle } from './pickle-writer.js';
import type { DiskOptions } from './types.js';

/**
 * node:crypto (value file names) and node:zlib (JSONDisk), loaded at first use: most processes
 * never store a value in a file nor open a JSONDisk, and node:crypto alone costs each process
 * about 0.5 MiB (bench --only crawl, docs/crawler.md#speed-and-memory).
 */
const nodeCrypto = () => process.getBuiltinModule('node:crypto');
const nodeZlib = () => process.getBuiltinModule('node:zlib');

/** A value as bound to or read from an SQLite column. */
export type DbValue = string | number | bigint | Buffer | null;

/** The columns that `Disk.store` produces for one value. */
export interface StoredValue {
  /** Bytes in the value file; 0 for values stored in the row. */
  readonly size: number;
  /** 1 raw, 2 binary file, 3 text file, 4 serialized (inline or file). */
  readonly mode: number;
  /** The value file relative to the cache directory, or null. */
  readonly filename: string | null;
  /** The inline value, or null when the value is in a file. */
  readonly dbValue: DbValue;
}

export const MODE_RAW = 1;
export const MODE_BINARY = 2;
export const MODE_TEXT = 3;
export const MODE_PICKLE = 4;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Prefix of structured keys (raw=0): not a valid pickle opcode sequence Python would accept. */
const STRUCTURED_MAGIC = Buffer.from('\x00ndk1:', 'latin1');

/**
 * Whether a string is valid UTF-16 (no lone surrogate), i.e. survives SQLite TEXT and UTF-8 files.
 * `String.prototype.isWellFormed` exists in Node 20 but not in the ES2023 lib types.
 */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * The serializer. Subclass it and pass the class as `new Cache(dir, { disk: MyDisk })` to change
 * how keys and values are stored; every method may be overridden.
 */
export class Disk {
  readonly directory: string;
  readonly minFileSize: number;
  /** Set by `storeLater`: value files are not written but their bytes kept here. */
  #deferred: { bytes: Buffer | null } | null = null;

  constructor(directory: string, options: DiskOptions) {
    this.directory = directory;
    this.minFileSize = options.minFileSize;
  }

  /** Converts a key to its database form: `[dbKey, raw]`. Throws `TypeError` for invalid keys. */
  put(key: unknown): [DbValue, 0 | 1] {
    switch (typeof key) {
      case 'string':
        // A lone surrogate would be mangled by UTF-8 (and read back as U+FFFD): encode it instead.
        return isWellFormed(key) ? [key, 1] : [encodeStructuredKey(key), 0];
      case 'number':
        if (Number.isNaN(key)) throw new TypeError('invalid key: NaN cannot be a cache key');
        // Integers are bound as bigint so that SQLite stores INTEGER (as Python does), not REAL.
        return [Number.isSafeInteger(key) ? BigInt(key) : key, 1];
      case 'bigint':
        if (key >= INT64_MIN && key <= INT64_MAX) return [key, 1];
        return [encodeStructuredKey(key), 0];
      case 'object':
        if (key === null) return [encodeStructuredKey(key), 0];
        if (Buffer.isBuffer(key)) return [key, 1];
        // A key read from a Python-written entry: its pickle bytes address that entry again.
        if (key instanceof ForeignKey) return [key.bytes, 0];
        if (key instanceof Uint8Array)
          return [Buffer.from(key.buffer, key.byteOffset, key.byteLength), 1];
        return [encodeStructuredKey(key), 0];
      case 'boolean':
        return [encodeStructuredKey(key), 0];
      default:
        throw new TypeError(`invalid key: ${typeof key} cannot be a cache key`);
    }
  }

  /** Converts a database key back to the JS key. */
  get(dbKey: DbValue, raw: number | bigint): unknown {
    if (raw) return typeof dbKey === 'bigint' ? intToJs(dbKey) : dbKey;
    const bytes = dbKey as Buffer;
    if (bytes.subarray(0, STRUCTURED_MAGIC.length).equals(STRUCTURED_MAGIC))
      return decodeStructuredKey(bytes);
    // A key pickled by Python: never unpickled here. It is returned as an opaque wrapper.
    return new ForeignKey(bytes);
  }

  /**
   * Converts a value to its columns, writing a value file when it is large.
   * Throws `TypeError` for `undefined` (which always means "absent") and for values that structured
   * clone cannot copy (functions, symbols, class instances with private state...).
   */
  store(value: unknown, key?: unknown): StoredValue {
    switch (typeof value) {
      case 'string':
        if (!isWellFormed(value)) break; // lone surrogates do not survive UTF-8: serialize instead
        if (value.length < this.minFileSize)
          return { size: 0, mode: MODE_RAW, filename: null, dbValue: value };
        return this.#storeFile(Buffer.from(value, 'utf8'), MODE_TEXT, key, value);
      case 'number':
        if (Number.isNaN(value)) break; // SQLite stores NaN as NULL: serialize it instead.
        if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
          return { size: 0, mode: MODE_RAW, filename: null, dbValue: BigInt(value) };
        }
        return { size: 0, mode: MODE_RAW, filename: null, dbValue: value };
      case 'bigint':
        // Beyond 2**53 an INTEGER reads back as a bigint, so it is stored natively and Python sees
        // an int; a smaller bigint would read back as a number, so it is serialized to stay a bigint.
        if ((value > MAX_SAFE || value < -MAX_SAFE) && value >= INT64_MIN && value <= INT64_MAX) {
          return { size: 0, mode: MODE_RAW, filename: null, dbValue: value };
        }
        break;
      case 'undefined':
        throw new TypeError(
          'invalid value: undefined cannot be stored (undefined means "absent"); use null',
        );
      case 'function':
      case 'symbol':
        throw new TypeError(`invalid value: a ${typeof value} cannot be stored`);
      case 'object':
        if (Buffer.isBuffer(value)) {
          if (value.length < this.minFileSize)
            return { size: 0, mode: MODE_RAW, filename: null, dbValue: value };
          return this.#storeFile(value, MODE_BINARY, key, value);
        }
        break;
    }
    let bytes: Buffer;
    try {
      bytes = v8.serialize(value);
    } catch (error) {
      throw new TypeError(
        `invalid value: it cannot be serialized by structured clone (${(error as Error).message})`,
        {
          cause: error,
        },
      );
    }
    if (bytes.length < this.minFileSize)
      return { size: 0, mode: MODE_PICKLE, filename: null, dbValue: bytes };
    return this.#storeFile(bytes, MODE_PICKLE, key, value);
  }

  /**
   * @internal `store` without writing the value file: a large value's bytes are returned beside
   * its columns, for the caller to write to `fullPath(stored.filename)` (the `.async` views write
   * them with `writeNewFileAsync`). `bytes` is null for an inline value.
   */
  storeLater(value: unknown, key?: unknown): { stored: StoredValue; bytes: Buffer | null } {
    const deferred = { bytes: null as Buffer | null };
    this.#deferred = deferred;
    try {
      return { stored: this.store(value, key), bytes: deferred.bytes };
    } finally {
      this.#deferred = null;
    }
  }

  /**
   * @internal `fetch` with the value file read by async I/O (`fs.promises`); rejects with ENOENT
   * when the file is gone, as `fetch` throws.
   */
  async fetchAsync(mode: number, filename: string | null, dbValue: DbValue): Promise<unknown> {
    if (filename === null || mode === MODE_RAW) return this.fetch(mode, filename, dbValue);
    // The callback API: fs.promises.readFile reads in chunks with more round trips to the pool.
    const bytes = await new Promise<Buffer>((resolve, reject) =>
      fs.readFile(this.fullPath(filename), (error, data) =>
        error ? reject(error) : resolve(data),
      ),
    );
    switch (mode) {
      case MODE_BINARY:
        return bytes;
      case MODE_TEXT:
        return bytes.toString('utf8');
      case MODE_PICKLE:
        return deserialize(bytes);
      default:
        throw new UnsupportedValueError(`unknown value mode ${mode}`);
    }
  }

  /** @internal `remove` by async I/O; never rejects. */
  async removeAsync(relative: string): Promise<void> {
    const full = this.fullPath(relative);
    await fs.promises.unlink(full).catch(() => {});
    let dir = path.dirname(full);
    const root = path.resolve(this.directory);
    while (path.resolve(dir) !== root && dir.length > root.length) {
      try {
        await fs.promises.rmdir(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  /** Writes `bytes` to a new value file, named by `filename(key, value)` as diskcache does. */
  #storeFile(bytes: Buffer, mode: number, key: unknown, value: unknown): StoredValue {
    const { relative, full } = this.filename(key, value);
    if (this.#deferred !== null) {
      this.#deferred.bytes = bytes;
      return { size: bytes.length, mode, filename: relative, dbValue: null };
    }
    try {
      writeNewFile(full, bytes);
    } catch (error) {
      this.remove(relative); // the partial file, and the directories made for it
      throw error;
    }
    return { size: bytes.length, mode, filename: relative, dbValue: null };
  }

  /**
   * Converts columns back to the value. Throws an `ENOENT` error when the value file is missing
   * (the Cache treats that as a miss: another process deleted the entry meanwhile).
   */
  fetch(mode: number, filename: string | null, dbValue: DbValue): unknown {
    switch (mode) {
      case MODE_RAW:
        return typeof dbValue === 'bigint' ? intToJs(dbValue) : dbValue;
      case MODE_BINARY:
        return fs.readFileSync(this.fullPath(filename!));
      case MODE_TEXT:
        return fs.readFileSync(this.fullPath(filename!), 'utf8');
      case MODE_PICKLE:
        return deserialize(
          filename === null ? (dbValue as Buffer) : fs.readFileSync(this.fullPath(filename)),
        );
      default:
        throw new UnsupportedValueError(`unknown value mode ${mode}`);
    }
  }

  /** A new random value file name: `ab/cd/<28 hex>.val`, relative and full. */
  filename(_key?: unknown, _value?: unknown): { relative: string; full: string } {
    const hex = nodeCrypto().randomBytes(16).toString('hex');
    const relative = `${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex.slice(4)}.val`;
    return { relative, full: path.join(this.directory, relative) };
  }

  /** The absolute path of a stored relative filename (Python on Windows stores backslashes). */
  fullPath(relative: string): string {
    return path.join(
      this.directory,
      relative.includes('\\') ? relative.replaceAll('\\', '/') : relative,
    );
  }

  /** Deletes a value file and the directories it leaves empty; never throws. */
  remove(relative: string): void {
    const full = this.fullPath(relative);
    try {
      fs.unlinkSync(full);
    } catch {
      // Already gone (another process, or a user): its directories may still be left empty.
    }
    // Like os.removedirs: remove emptied parents, stopping at the first non-empty one.
    let dir = path.dirname(full);
    const root = path.resolve(this.directory);
    while (path.resolve(dir) !== root && dir.length > root.length) {
      try {
        fs.rmdirSync(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  /**
   * diskcache's portable hash of a key (used by FanoutCache to pick a shard), so that Python and
   * Node put a key in the same shard.
   */
  hash(key: unknown): number {
    const [dbKey] = this.put(key);
    if (Buffer.isBuffer(dbKey)) return adler32(dbKey);
    if (typeof dbKey === 'string') return adler32(Buffer.from(dbKey, 'utf8'));
    if (typeof dbKey === 'bigint') {
      const mask = 0xffffffffn;
      return Number(((dbKey % mask) + mask) % mask);
    }
    if (typeof dbKey === 'number') {
      const bytes = Buffer.alloc(8);
      bytes.writeDoubleBE(dbKey);
      return adler32(bytes);
    }
    throw new TypeError('invalid key');
  }
}

/**
 * Stands for a stored value this process cannot decode (another language's object, a pickle that
 * names code), where a whole listing must not fail for one entry: iteration (`entries()`, a
 * Deque's or Index's values) and `get(key, { placeholder: true })` return it instead of throwing
 * `UnsupportedValueError`.
 */
export class Undecodable {
  constructor(
    /** The stored mode (4: serialized). */
    readonly mode: number,
    /** Bytes of the stored value, when known (inline values). */
    readonly size: number | undefined,
    /** Why it cannot be decoded (the UnsupportedValueError's message). */
    readonly reason: string,
  ) {}

  toString(): string {
    return `<undecodable value: mode ${this.mode}${this.size === undefined ? '' : `, ${this.size} bytes`}: ${this.reason}>`;
  }
}

/**
 * A key written by Python as a pickle (raw=0), as the default Disk returns it: passed back, its
 * bytes address the same entry. `decode()` gives its plain-data value (a tuple as an array...), but
 * that value, passed back as a key, is encoded by Node's rules and is not the same entry; PickleDisk
 * returns such keys decoded when they re-encode to the same bytes.
 */
export class ForeignKey {
  constructor(readonly bytes: Buffer) {}
  /** The key's value, read by the safe pickle reader; `UnsupportedValueError` when it is not plain data. */
  decode(): unknown {
    if (this.bytes.subarray(0, STRUCTURED_MAGIC.length).equals(STRUCTURED_MAGIC)) {
      return decodeStructuredKey(this.bytes);
    }
    return loadPickle(this.bytes);
  }
  toString(): string {
    return `ForeignKey(${this.bytes.toString('hex')})`;
  }
}

/**
 * PickleDisk: structured values and keys as pickle (protocol 5, or 4 when the cache's
 * `disk_pickle_protocol` is 4), so Python's diskcache reads them: objects and Maps as dicts,
 * arrays as lists (tuples in keys, so Python's `cache[('a', 1)]` finds a Node `['a', 1]` key),
 * null as None, Sets as sets. Strings, numbers, int64 bigints and buffers stay native, as with
 * Disk. A value pickle cannot carry (a Date, a class instance, undefined inside an array, a Map
 * with object keys) is a `TypeError` naming it. Reads both pickles and v8-serialized values.
 * Not guaranteed: a small bigint reads back as a number, a tuple as an array, a dict with a
 * non-str key as a Map.
 */
export class PickleDisk extends Disk {
  readonly pickleProtocol: 4 | 5;

  constructor(directory: string, options: DiskOptions) {
    super(directory, options);
    this.pickleProtocol = Number(options.pickle_protocol ?? 5) === 4 ? 4 : 5;
  }

  override put(key: unknown): [DbValue, 0 | 1] {
    switch (typeof key) {
      case 'string':
        if (isWellFormed(key)) return [key, 1];
        break;
      case 'number':
        return super.put(key);
      case 'bigint':
        if (key >= INT64_MIN && key <= INT64_MAX) return [key, 1];
        break;
      case 'object':
        if (key instanceof Uint8Array || key instanceof ForeignKey) return super.put(key);
        break;
      case 'boolean':
        break;
      default:
        return super.put(key);
    }
    try {
      return [dumpPickle(key, { key: true, protocol: this.pickleProtocol }), 0];
    } catch (error) {
      throw new TypeError((error as Error).message.replace(/^invalid value/, 'invalid key'), {
        cause: error,
      });
    }
  }

  /**
   * Pickled keys come back decoded when that value re-encodes to the same bytes; otherwise (and for
   * structured keys the default Disk wrote) as a ForeignKey, which still addresses the entry.
   */
  override get(dbKey: DbValue, raw: number | bigint): unknown {
    if (raw) return super.get(dbKey, raw);
    const key = new ForeignKey(dbKey as Buffer);
    try {
      const value = key.decode();
      const [again] = this.put(value);
      return Buffer.isBuffer(again) && again.equals(key.bytes) ? value : key;
    } catch {
      return key;
    }
  }

  override store(value: unknown, key?: unknown): StoredValue {
    switch (typeof value) {
      case 'string':
        if (isWellFormed(value)) return super.store(value, key);
        break;
      case 'number':
        if (!Number.isNaN(value)) return super.store(value, key);
        break;
      case 'bigint':
        // diskcache stores every int64 int natively: Python reads an int either way.
        if (value >= INT64_MIN && value <= INT64_MAX) {
          return { size: 0, mode: MODE_RAW, filename: null, dbValue: value };
        }
        break;
      case 'object':
        if (Buffer.isBuffer(value)) return super.store(value, key);
        if (value instanceof Uint8Array) {
          return super.store(Buffer.from(value.buffer, value.byteOffset, value.byteLength), key);
        }
        break;
      case 'boolean':
        break;
      default:
        return super.store(value, key); // undefined, functions, symbols: TypeError
    }
    const bytes = dumpPickle(value, { protocol: this.pickleProtocol });
    if (bytes.length < this.minFileSize) {
      return { size: 0, mode: MODE_PICKLE, filename: null, dbValue: bytes };
    }
    const { relative, full } = this.filename(key, value);
    writeNewFile(full, bytes);
    return { size: bytes.length, mode: MODE_PICKLE, filename: relative, dbValue: null };
  }
}

/**
 * JSONDisk: keys and values as zlib-compressed JSON, as Python's `diskcache.JSONDisk` stores them
 * (keys are raw BLOBs, values raw BLOBs or binary files). Pass `diskOptions: { compress_level }`.
 */
export class JSONDisk extends Disk {
  readonly compressLevel: number;

  constructor(directory: string, options: DiskOptions) {
    super(directory, options);
    const level = options.compress_level ?? 1;
    if (typeof level !== 'number' || !Number.isInteger(level) || level < -1 || level > 9) {
      throw new RangeError(
        `diskOptions.compress_level must be an integer from -1 to 9, got ${String(level)}`,
      );
    }
    this.compressLevel = level;
  }

  #compress(value: unknown): Buffer {
    return nodeZlib().deflateSync(Buffer.from(pythonJsonDumps(value), 'utf8'), {
      level: this.compressLevel,
    });
  }

  override put(key: unknown): [DbValue, 0 | 1] {
    return super.put(this.#compress(key));
  }

  override get(dbKey: DbValue, raw: number | bigint): unknown {
    return JSON.parse(
      nodeZlib()
        .inflateSync(super.get(dbKey, raw) as Buffer)
        .toString('utf8'),
    );
  }

  override store(value: unknown, key?: unknown): StoredValue {
    if (value === undefined) return super.store(value, key);
    return super.store(this.#compress(value), key);
  }

  override fetch(mode: number, filename: string | null, dbValue: DbValue): unknown {
    return JSON.parse(
      nodeZlib()
        .inflateSync(super.fetch(mode, filename, dbValue) as Buffer)
        .toString('utf8'),
    );
  }
}

/** `writeNewFile` by async I/O (`fs.promises`). */
export async function writeNewFileAsync(full: string, bytes: Buffer): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.promises.mkdir(path.dirname(full), { recursive: true });
      await new Promise<void>((resolve, reject) =>
        fs.writeFile(full, bytes, { flag: 'wx' }, (error) => (error ? reject(error) : resolve())),
      );
      return;
    } catch (error) {
      if (attempt < 9 && (error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        await fs.promises.rm(full, { force: true });
      throw storageError(error, `writing the value file ${full}`);
    }
  }
}

/** Writes a new file exclusively, making its directories; retries when a concurrent remove races. */
export function writeNewFile(full: string, bytes: Buffer): void {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.mkdirSync(path.dirname(full), { recursive: true });
      fs.writeFileSync(full, bytes, { flag: 'wx' });
      return;
    } catch (error) {
      // Another process may delete the emptied directory between mkdir and open.
      if (attempt < 9 && (error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      // A write that failed half way (a full disk) must not leave its partial file behind.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') fs.rmSync(full, { force: true });
      throw storageError(whyNotWritten(error, full), `writing the value file ${full}`);
    }
  }
}

/**
 * The real reason a value file could not be written: Node's recursive mkdir reports ENOENT when a
 * parent directory cannot be created on a read-only mount; then the nearest existing ancestor's
 * access error (EROFS, EACCES) is the reason.
 */
export function whyNotWritten(error: unknown, full: string): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return error;
  let directory = path.dirname(full);
  while (!fs.existsSync(directory) && path.dirname(directory) !== directory)
    directory = path.dirname(directory);
  try {
    fs.accessSync(directory, fs.constants.W_OK);
    return error;
  } catch (reason) {
    return reason;
  }
}

/** Reads an INTEGER column value: a number when it is safe, else the bigint. */
export function intToJs(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

/**
 * A mode-4 value: v8's structured clone (always starting with its 0xff version tag) or a pickle
 * (0x80 PROTO for protocols 2-5; protocols 0-1 have no header), read by the data-only reader.
 */
function deserialize(bytes: Buffer): unknown {
  if (bytes[0] === 0xff) return v8.deserialize(bytes);
  try {
    return loadPickle(bytes);
  } catch (error) {
    if (!(error instanceof UnsupportedValueError) || bytes[0] === 0x80) throw error;
    throw new UnsupportedValueError(
      `this value is in an unknown serialized format (neither v8 nor a pickle: ${error.message})`,
      { cause: error },
    );
  }
}

/** Adler-32 of `bytes`, as zlib.adler32 computes it. */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  let i = 0;
  const length = bytes.length;
  while (i < length) {
    const end = Math.min(i + 5552, length);
    for (; i < end; i++) {
      a += bytes[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b * 65536 + a) >>> 0;
}

// ---- Structured keys ---------------------------------------------------------------------------
// A structured key becomes a JSON tree in which every array is tagged by its first element:
// ['a', ...items], ['o', k1, v1, ...] (object keys sorted), ['i', '123'] (bigint),
// ['b', base64] (bytes), ['f', 'Infinity'] (non-finite), ['d', iso] (Date). Strings, finite
// numbers, booleans and null stay as they are. The result is canonical: deep-equal keys give the
// same bytes whatever the order of object keys.

function toTree(value: unknown, depth: number): unknown {
  if (depth > 64) throw new TypeError('invalid key: structured key nested more than 64 levels');
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isNaN(value))
        throw new TypeError('invalid key: NaN cannot be part of a cache key');
      if (!Number.isFinite(value)) return ['f', String(value)];
      return Object.is(value, -0) ? 0 : value;
    case 'bigint':
      return ['i', value.toString()];
    case 'object': {
      if (value === null) return null;
      if (value instanceof Uint8Array) {
        return [
          'b',
          Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
        ];
      }
      if (Array.isArray(value)) {
        const tree: unknown[] = ['a'];
        for (const item of value) tree.push(toTree(item, depth + 1));
        return tree;
      }
      if (value instanceof Date) return ['d', value.toISOString()];
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(
          `invalid key: ${proto?.constructor?.name ?? 'object'} instances cannot be part of a cache key ` +
            '(use strings, numbers, bigints, buffers, booleans, null, arrays and plain objects)',
        );
      }
      const tree: unknown[] = ['o'];
      for (const name of Object.keys(value).sort()) {
        tree.push(name, toTree((value as Record<string, unknown>)[name], depth + 1));
      }
      return tree;
    }
    default:
      throw new TypeError(`invalid key: ${typeof value} cannot be part of a cache key`);
  }
}

function fromTree(tree: unknown): unknown {
  if (!Array.isArray(tree)) return tree;
  switch (tree[0]) {
    case 'a':
      return tree.slice(1).map(fromTree);
    case 'o': {
      const object: Record<string, unknown> = {};
      for (let i = 1; i < tree.length; i += 2) object[tree[i] as string] = fromTree(tree[i + 1]);
      return object;
    }
    case 'i':
      return BigInt(tree[1] as string);
    case 'b':
      return Buffer.from(tree[1] as string, 'base64');
    case 'f':
      return Number(tree[1]);
    case 'd':
      return new Date(tree[1] as string);
    default:
      throw new UnsupportedValueError(`corrupt structured key tag ${String(tree[0])}`);
  }
}

/** The canonical bytes of a structured key. Deep-equal keys give equal bytes. */
export function encodeStructuredKey(key: unknown): Buffer {
  return Buffer.concat([STRUCTURED_MAGIC, Buffer.from(JSON.stringify(toTree(key, 0)), 'utf8')]);
}

function decodeStructuredKey(bytes: Buffer): unknown {
  return fromTree(JSON.parse(bytes.subarray(STRUCTURED_MAGIC.length).toString('utf8')));
}

/**
 * `json.dumps(value)` as Python writes it by default (', ' and ': ' separators, non-ASCII escaped),
 * so that JSONDisk keys written by Node and Python are the same bytes before compression.
 */
export function pythonJsonDumps(value: unknown): string {
  const text = JSON.stringify(value, (_name, v) => {
    if (typeof v === 'bigint') return Number(v);
    if (v === undefined) return null;
    return v;
  });
  if (text === undefined) throw new TypeError('invalid value: it cannot be written as JSON');
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const code = ch.charCodeAt(0);
    if (inString) {
      if (ch === '\\') {
        out += ch + text[++i];
        continue;
      }
      if (ch === '"') inString = false;
      out += code > 0x7f ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
      continue;
    }
    if (ch === '"') inString = true;
    if (ch === '-' || (ch >= '0' && ch <= '9')) {
      // A number. Safe integers are Python ints (as Disk stores them); anything else is a float,
      // which Python writes differently: 1e-07 for 1e-7, 1e+20 for 100000000000000000000.
      JSON_NUMBER.lastIndex = i;
      const token = JSON_NUMBER.exec(text)![0];
      const number = Number(token);
      out += Number.isSafeInteger(number) && !/[.eE]/.test(token) ? token : pythonFloatRepr(number);
      i += token.length - 1;
      continue;
    }
    out += ch === ',' ? ', ' : ch === ':' ? ': ' : ch;
  }
  return out;
}

/** A number token of JSON.stringify's output (sticky: matched at `lastIndex`). */
const JSON_NUMBER = /-?[0-9.eE+-]+/y;

/**
 * Python's `repr(float)`: the same shortest round-trip digits as JavaScript, but positional only
 * for 1e-4 <= |x| < 1e16 and otherwise `d.ddde±XX` (two exponent digits at least).
 */
function pythonFloatRepr(x: number): string {
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const positional = String(x);
  return positional.includes('.') ? positional : `${positional}.0`;
}
