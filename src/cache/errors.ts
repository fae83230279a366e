/**
 * The named errors of node-diskcache. Every runtime failure that a caller may want to catch by
 * kind is one of these classes; bad arguments are plain `TypeError` / `RangeError`.
 * This file must not import anything: every other module imports it.
 */

/** Options accepted by every error class: the standard `cause`. */
export interface DiskcacheErrorOptions {
  readonly cause?: unknown;
}

/** Base class of node-diskcache's named errors. */
export class DiskcacheError extends Error {
  constructor(message: string, options?: DiskcacheErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The write lock (or a lock recipe) could not be had within the timeout.
 * For the batch removers (`clear`, `evict`, `expire`, `cull`) `count` holds how many entries were
 * removed before the timeout, as diskcache's `Timeout(count)` does.
 */
export class Timeout extends DiskcacheError {
  readonly count: number;
  constructor(
    message = 'timed out waiting for the cache write lock',
    options?: DiskcacheErrorOptions & { count?: number },
  ) {
    super(message, options);
    this.count = options?.count ?? 0;
  }
}

/** A key that must exist does not (diskcache raises Python's `KeyError` in the same places). */
export class KeyError extends DiskcacheError {
  readonly key: unknown;
  constructor(key: unknown, message?: string, options?: DiskcacheErrorOptions) {
    super(message ?? `key not found: ${describeKey(key)}`, options);
    this.key = key;
  }
}

/** A positional index is outside a Deque (diskcache raises Python's `IndexError`). */
export class IndexError extends DiskcacheError {}

/** `cache.db` is not a usable SQLite database (corrupted, truncated, or another kind of file). */
export class DatabaseError extends DiskcacheError {}

/**
 * The disk or the database is full (SQLITE_FULL, ENOSPC): the write changed nothing and left no
 * partial file. Deleting and culling still work (they free space), and reads go on.
 */
export class StorageFullError extends DatabaseError {}

/** The directory or `cache.db` cannot be written (SQLITE_READONLY, EROFS, EACCES, EPERM). */
export class ReadOnlyError extends DatabaseError {}

/**
 * The library's error for a storage failure of SQLite or the file system (a full disk, a
 * read-only directory), with the original error as `cause`; any other error as it is.
 */
export function storageError(error: unknown, what: string): unknown {
  if (error instanceof DiskcacheError) return error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return error;
  const message = (error as Error).message;
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC' || code === 'EDQUOT')
    return new StorageFullError(`${what}: the disk or database is full (${message})`, {
      cause: error,
    });
  if (
    code.startsWith('SQLITE_READONLY') ||
    code === 'EROFS' ||
    code === 'EACCES' ||
    code === 'EPERM'
  )
    return new ReadOnlyError(`${what}: cannot write (${message})`, { cause: error });
  return error;
}

/** A value was stored in a format this process refuses to read (for example a Python pickle). */
export class UnsupportedValueError extends DiskcacheError {}

/** A WorkQueue job's lease was lost (it expired and the job was handed to another worker). */
export class LeaseLostError extends DiskcacheError {}

/** A lock or semaphore was released by a holder that does not own it. */
export class NotOwnedError extends DiskcacheError {}

/** A wait (lock, queue) was cancelled through its `AbortSignal`. */
export class AbortError extends DiskcacheError {}

/**
 * A method was called on an object after its `close()` (a Cache, FanoutCache, Deque, Index or
 * WorkQueue): its connection is gone. Open a new object on the same directory instead.
 */
export class ClosedError extends DiskcacheError {}

/**
 * Whether an error is SQLite's "the database is locked / busy" (another connection holds the
 * lock): the one failure that waiting and trying again can cure.
 */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}

function describeKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'bigint') return `${key}n`;
  if (Buffer.isBuffer(key))
    return `<Buffer ${key.subarray(0, 16).toString('hex')}${key.length > 16 ? '…' : ''}>`;
  try {
    return JSON.stringify(key, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(key);
  } catch {
    return String(key);
  }
}

/** A value that must be in a collection is not (diskcache raises Python's `ValueError`: `Deque.remove`). */
export class ValueError extends DiskcacheError {}

/** A worker runner's handler module does not exist, fails to load, or exports no function. */
export class HandlerModuleError extends DiskcacheError {}

/**
 * A work queue opened with `create: false` does not exist: a directory that is missing or holds
 * no work queue, or a Redis queue never written to (its `dq:{name}:settings` hash is absent).
 * Nothing was created.
 */
export class QueueNotFoundError extends DiskcacheError {}

/** A short description of a received argument, for the messages of TypeError / RangeError. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'object')
    return (Object.getPrototypeOf(value)?.constructor?.name as string | undefined) ?? 'object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

/**
 * A runner job ran past its `jobTimeoutSeconds` (its `signal` was aborted with this error). It
 * fails the job like a throw does, so the job is retried, then moves to the failed list.
 */
export class JobTimeoutError extends DiskcacheError {}

/**
 * Thrown by a runner handler to fail this attempt and have the job retried after
 * `retryInSeconds` instead of the queue's backoff (a server's Retry-After, a quota that resets at
 * a known time). It spends the attempt like any throw; after `maxAttempts` the job moves to the
 * failed list. The runner honours any thrown error with an own `retryInSeconds` number >= 0 the
 * same way (so does one that crossed a process boundary).
 */
export class RetryLaterError extends DiskcacheError {
  readonly retryInSeconds: number;
  constructor(message: string, retryInSeconds: number, options?: DiskcacheErrorOptions) {
    if (typeof retryInSeconds !== 'number' || Number.isNaN(retryInSeconds))
      throw new TypeError(
        `retryInSeconds must be a number of seconds, got ${describeValue(retryInSeconds)}`,
      );
    if (!Number.isFinite(retryInSeconds) || retryInSeconds < 0)
      throw new RangeError(
        `retryInSeconds must be a finite number of seconds >= 0, got ${describeValue(retryInSeconds)}`,
      );
    super(message, options);
    this.retryInSeconds = retryInSeconds;
  }
}

/**
 * The wait a thrown value asks for before its retry: its own `retryInSeconds`, when that is a
 * finite number >= 0 (a `RetryLaterError`, or any error carrying one); else undefined.
 */
export function retryInSecondsOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !Object.hasOwn(error, 'retryInSeconds'))
    return undefined;
  const seconds = (error as { retryInSeconds: unknown }).retryInSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0
    ? seconds
    : undefined;
}
