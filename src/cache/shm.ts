/**
 * shm: the WAL-index validator of the read cache (read-cache.ts), through the native addon
 * (native/shm.c, built at install; see the README's "Reads from memory when nothing changed" and
 * docs/benchmarks.md).
 *
 * Every commit by any connection to a WAL database rewrites the WAL-index header at offset 0 of
 * `cache.db-shm` (SQLite's walIndexWriteHdr: `iChange` incremented, then the 48-byte header written,
 * second copy first). So "has anyone committed since I looked?" is "does the header differ from
 * my copy?": twelve reads of a shared read-only mapping, no SQLite call. A checkpoint restart or a
 * recovery also rewrites it: a spurious invalidation, harmless. A read torn by a concurrent write
 * differs from the copy too, which invalidates: safe.
 *
 * Why the mapping stays valid: in WAL mode with locking_mode normal a connection holds a SHARED
 * lock on the database and a shared lock on `-shm` for its whole life, so while the Cache's
 * connection is open no process can truncate or unlink `-shm` (SQLite only does either holding
 * the exclusive lock). It is mapped only after the connection has read (`-shm` exists and is held).
 *
 * File descriptors: closing ANY fd of a file drops every POSIX lock this process holds on it,
 * SQLite's included (that corrupted a database when an earlier attempt closed a pread fd). So the
 * fd opened here is never closed while SQLite may hold locks on that file: one fd and mapping per
 * file (by device and inode), shared by every Cache of the process and kept for its life. A later
 * open that finds another inode at the same path (the file was deleted and recreated while no
 * connection of this process had it open) maps the new one. A file's fd is closed and its mapping
 * undone only once no Cache of this process uses it and it is unlinked (SQLite unlinks `-shm` when
 * the last connection of any process closes it): no connection can hold a lock on it then. So a
 * process keeps at most one fd and one page per `-shm` file that some process still has open,
 * not one per Cache ever opened; they go at the next open or close of a Cache after the file is
 * unlinked.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's interface. */
interface Addon {
  /** Maps the first page of `fd` read-only: the buffer over it, and the handle that unmaps it. */
  mapHeader(fd: number): { buffer: ArrayBuffer; handle: unknown };
  /** Detaches the buffer (its views then read nothing) and unmaps it now. */
  unmapHeader(handle: unknown, buffer: ArrayBuffer): void;
}

/** Words of the WAL-index header compared (48 bytes). */
const HEADER_WORDS = 12;
/** WalIndexHdr.iVersion of every SQLite since 3.7.0. */
const WALINDEX_VERSION = 3007000;

/** The environment variable that turns the addon off (the read cache then uses data_version). */
export const NATIVE_ENV = 'DISKCACHE_NATIVE';

let addon: Addon | null | undefined;
let loadError: string | undefined;

/** The addon, or null when it is not built or turned off (`DISKCACHE_NATIVE=off`, read at each call). */
export function nativeAddon(): Addon | null {
  if (process.env[NATIVE_ENV] === 'off') return null;
  if (addon !== undefined) return addon;
  addon = null;
  // The package root: the nearest directory up with a package.json (from src/cache, dist/cache or
  // the tests' transpiled copy under .tmp/).
  let directory = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(directory, 'package.json'))) {
    const parent = path.dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  const file = path.join(directory, 'build', 'Release', 'diskcache_shm.node');
  try {
    const loaded = createRequire(import.meta.url)(file) as Addon;
    if (typeof loaded.mapHeader === 'function' && typeof loaded.unmapHeader === 'function')
      addon = loaded;
    else loadError = `${file} has no mapHeader/unmapHeader`;
  } catch (error) {
    loadError = (error as Error).message;
  }
  return addon;
}

/** Why the addon is not in use (for diagnosis), or undefined when it is. */
export function nativeAddonError(): string | undefined {
  if (process.env[NATIVE_ENV] === 'off') return `${NATIVE_ENV}=off`;
  nativeAddon();
  return loadError;
}

/** One mapped `-shm` file. */
interface Mapped {
  readonly fd: number;
  readonly buffer: ArrayBuffer;
  readonly handle: unknown;
  readonly words: Int32Array;
  readonly bytes: Uint8Array;
  /** Cache objects using it now. */
  users: number;
}

/** Every `-shm` file this process mapped, by `dev:ino`. */
const mapped = new Map<string, Mapped>();

function inodeKey(stats: fs.BigIntStats): string {
  return `${stats.dev}:${stats.ino}`;
}

/**
 * Maps the `-shm` file of the database file `dbFile` (the connection must have read, so it exists
 * and is held), or returns null (no addon, no file, not a live WAL index).
 */
function acquire(dbFile: string): Mapped | null {
  const native = nativeAddon();
  if (native === null) return null;
  let shmPath: string;
  let stats: fs.BigIntStats | undefined;
  try {
    shmPath = `${fs.realpathSync(dbFile)}-shm`;
    stats = fs.statSync(shmPath, { bigint: true, throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (stats === undefined || stats.size < 4096n) return null;
  const known = mapped.get(inodeKey(stats));
  if (known !== undefined) {
    known.users++;
    return known;
  }
  // Opened here and never closed while it may be locked (see the header).
  let fd: number;
  try {
    fd = fs.openSync(shmPath, 'r');
  } catch {
    return null;
  }
  const key = inodeKey(fs.fstatSync(fd, { bigint: true }));
  const raced = mapped.get(key);
  if (raced !== undefined) {
    // Replaced between stat and open, by this very file: keep the fd open (closing it would drop
    // locks), use the mapping already made.
    retained.push(fd);
    raced.users++;
    return raced;
  }
  let map: { buffer: ArrayBuffer; handle: unknown };
  try {
    map = native.mapHeader(fd);
  } catch {
    retained.push(fd);
    return null;
  }
  const { buffer, handle } = map;
  const entry: Mapped = {
    fd,
    buffer,
    handle,
    words: new Int32Array(buffer, 0, HEADER_WORDS),
    bytes: new Uint8Array(buffer, 0, HEADER_WORDS * 4),
    users: 1,
  };
  closeUnlinked();
  mapped.set(key, entry);
  return entry;
}

/** fds that must stay open (see acquire). */
const retained: number[] = [];

/** Closes every mapped file no Cache uses any more that is unlinked (see closeIfGone). */
function closeUnlinked(): void {
  for (const [key, entry] of mapped) closeIfGone(key, entry);
}

/**
 * Unmaps and closes the fd of a file no Cache of this process uses any more, once it is
 * unlinked: SQLite unlinks `-shm` only when the last connection of any process closes it, so no
 * connection holds a lock on it then. (Unmapped at once: a mapping keeps its file system busy.)
 */
function closeIfGone(key: string, entry: Mapped): void {
  if (entry.users > 0 || fs.fstatSync(entry.fd).nlink !== 0) return;
  mapped.delete(key);
  // The loaded addon, whatever DISKCACHE_NATIVE says now: it made the mappings there are.
  addon!.unmapHeader(entry.handle, entry.buffer);
  fs.closeSync(entry.fd);
}

/** How many `-shm` files this process has mapped now (for tests). */
export function mappedFiles(): number {
  return mapped.size;
}

/**
 * The WAL-index validator of one connection: `changed()` says whether any connection committed
 * since the last call (true on the first).
 */
export class ShmValidator {
  readonly #mapped: Mapped;
  readonly #words: Int32Array;
  readonly #copy = new Int32Array(HEADER_WORDS);
  #released = false;

  private constructor(entry: Mapped) {
    this.#mapped = entry;
    this.#words = entry.words;
    this.#copy[0] = -1; // iVersion is 3007000: the first call sees a change
  }

  /**
   * The validator of the connection `db` (opened on `dbFile`), or null when it cannot be used:
   * no addon, not journal_mode wal with locking_mode normal, or a header that does not look
   * like a live WAL index. The connection must have read already.
   */
  static open(
    db: { pragma(source: string, options: { simple: true }): unknown },
    dbFile: string,
  ): ShmValidator | null {
    if (nativeAddon() === null) return null;
    if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return null;
    if (String(db.pragma('locking_mode', { simple: true })).toLowerCase() !== 'normal') return null;
    const entry = acquire(dbFile);
    if (entry === null) return null;
    // isInit is byte 12 of the header.
    if (entry.words[0] !== WALINDEX_VERSION || entry.bytes[12] !== 1) {
      entry.users--;
      return null;
    }
    return new ShmValidator(entry);
  }

  changed(): boolean {
    const words = this.#words;
    const copy = this.#copy;
    // Every commit changes iChange (word 2); the rest catches recoveries and restarts.
    if (
      words[2] === copy[2] &&
      words[4] === copy[4] &&
      words[10] === copy[10] &&
      words[11] === copy[11] &&
      words[0] === copy[0] &&
      words[1] === copy[1] &&
      words[3] === copy[3] &&
      words[5] === copy[5] &&
      words[6] === copy[6] &&
      words[7] === copy[7] &&
      words[8] === copy[8] &&
      words[9] === copy[9]
    )
      return false;
    copy.set(words);
    return true;
  }

  /**
   * This connection no longer uses the mapping. Call after closing the connection: when it was
   * the last one of any process, SQLite has unlinked `-shm` and the fd is closed; otherwise the
   * fd and mapping stay for the next Cache on that file (see the header).
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#mapped.users--;
    closeUnlinked();
  }
}
