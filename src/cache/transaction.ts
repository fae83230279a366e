/**
 * transaction: the one write-transaction helper of the engine, used by Cache (and so by every
 * collection) and by WorkQueue. It takes SQLite's write lock with `BEGIN IMMEDIATE`, waits for it
 * up to `timeout` seconds (or as long as it takes with `retry`), turns a lock that cannot be had
 * into `Timeout`, nests (an inner write joins the open transaction), and manages value files
 * around it: files written for a transaction are deleted if it rolls back, files whose rows it
 * deleted are deleted only after it commits (so a rollback never leaves a row without its file).
 * It knows nothing of tables or statements other than BEGIN/COMMIT/ROLLBACK.
 */
import type Database from 'better-sqlite3';
import type { Seconds } from './checks.js';
import { ClosedError, isBusy, storageError, Timeout } from './errors.js';
import { busyMilliseconds } from './schema.js';
import { Backoff, pauseSync } from './waiting.js';

/** Options of a `Transactor`. */
export interface TransactorOptions {
  /** Seconds to wait for the write lock before `Timeout` (when the caller does not `retry`). */
  readonly timeout: Seconds;
  /**
   * How a busy database is waited for. `'sqlite'`: the connection's `busy_timeout` (set to
   * `timeout`) sleeps inside SQLite; a busy error means the timeout passed. `'poll'`: the
   * connection has no busy timeout and this helper retries after pauses that start at 50 µs and
   * double up to 2 ms — SQLite's own handler sleeps 1, 2, 5, 10… ms, which wastes most of the
   * time when several workers hand the lock around every millisecond or two (WorkQueue).
   */
  readonly busyWait: 'sqlite' | 'poll';
  /** Deletes a value file (relative to the directory); never throws. */
  readonly removeFile: (relative: string) => void;
  /** What the lock belongs to, for messages (the directory or the database file). */
  readonly name: string;
  /**
   * Called before every write on this connection, before the statement or transaction runs (the
   * Cache's read cache drops its rows: SQLite's `data_version` does not change for a
   * connection's own commits).
   */
  readonly beforeWrite?: () => void;
  /** `removeFile` by async I/O (never rejects): used inside `collectRemovals`. */
  readonly removeFileAsync?: (relative: string) => Promise<void>;
}

/** Where value-file removals go while `collectRemovals` runs (null: removed synchronously). */
let removalSink: Promise<void>[] | null = null;

/**
 * Runs `fn` (synchronous) so that the value files it deletes are deleted by async I/O: the
 * removals are started, and their promises pushed onto `sink` for the caller to await.
 */
export function collectRemovals<T>(sink: Promise<void>[], fn: () => T): T {
  const outer = removalSink;
  removalSink = sink;
  try {
    return fn();
  } finally {
    removalSink = outer;
  }
}

/**
 * Depth of `failFast` calls in progress in this thread. While it is above 0, a busy database
 * throws `Timeout` at once (no sleeping busy handler, no retry): the async views retry it
 * themselves, between awaits, so that waiting for another process never blocks the event loop.
 */
let failFastDepth = 0;
/** Transactors whose connection's busy timeout was set to 0 by the current `failFast`. */
const failingFast = new Set<Transactor>();

/**
 * Runs `fn` (synchronous) so that every lock wait inside it fails at once with `Timeout` instead
 * of waiting; connections get their busy timeout back when the outermost call ends.
 */
export function failFast<T>(fn: () => T): T {
  failFastDepth++;
  try {
    return fn();
  } finally {
    if (--failFastDepth === 0) {
      for (const transactor of failingFast) transactor.restoreBusyTimeout();
      failingFast.clear();
    }
  }
}

/** The outcome of one op of `writeEach`. */
export type Settled =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/** Runs writes in transactions on one connection; one per Cache or WorkQueue object. */
export class Transactor {
  readonly #db: Database.Database;
  readonly #options: TransactorOptions;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;
  /** SAVEPOINT / RELEASE / ROLLBACK TO for `writeEach`, prepared on first use. */
  #savepoints: [Database.Statement, Database.Statement, Database.Statement] | undefined;
  /** Nesting depth of `write` on this object (re-entrancy). */
  #depth = 0;
  /** Value files to delete once the outermost transaction commits. */
  #pendingRemovals: string[] = [];
  /** Value files written for the open transaction: deleted if it rolls back. */
  #written: string[] = [];
  #closed = false;
  /** `PRAGMA busy_timeout = 0`, and the one giving the timeout back (failFast), once used. */
  #noBusyTimeout: Database.Statement | undefined;
  #busyTimeout: Database.Statement | undefined;

  constructor(db: Database.Database, options: TransactorOptions) {
    this.#db = db;
    this.#options = options;
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
  }

  /** Whether a transaction of this object is open (writes join it). */
  get active(): boolean {
    return this.#depth > 0;
  }

  /** The `Timeout` for a lock not had in time; `count` is for the batch removers. */
  timeoutError(cause: unknown, count = 0): Timeout {
    return new Timeout(
      `could not get the write lock of ${this.#options.name} within ${this.#options.timeout} s`,
      { cause, count },
    );
  }

  /** Further calls throw `ClosedError` (the connection is closed by its owner). */
  close(): void {
    this.#closed = true;
  }

  /** Throws `ClosedError` after `close()`. */
  checkOpen(): void {
    if (this.#closed) throw new ClosedError(`${this.#options.name} is closed`);
  }

  /**
   * Runs `statement` (one autocommit statement, or a read) until the database is not busy:
   * once more per busy error while `retry` is set or, in 'poll' mode, until `timeout` passes.
   * A busy error that ends the wait becomes `Timeout`. Inside an open transaction it just runs.
   * `writtenFile` is a value file written for this statement: deleted if it fails.
   */
  run<T>(retry: boolean, writtenFile: string | null, statement: () => T): T {
    this.#options.beforeWrite?.();
    if (this.#depth > 0) {
      if (writtenFile !== null) this.#written.push(writtenFile);
      return statement();
    }
    this.checkOpen();
    if (failFastDepth > 0) this.#enterFailFast();
    let backoff: Backoff | undefined;
    let deadline = 0;
    for (;;) {
      try {
        return statement();
      } catch (error) {
        if (isBusy(error) && failFastDepth === 0) {
          if (this.#options.busyWait === 'poll') {
            const now = performance.now();
            if (deadline === 0) deadline = now + this.#options.timeout * 1000;
            if (retry || now < deadline) {
              backoff ??= new Backoff({ firstMs: 0.05, maxMs: 2 });
              pauseSync(backoff.next());
              continue;
            }
          } else if (retry) continue;
        }
        if (writtenFile !== null) this.#removeFile(writtenFile);
        throw isBusy(error) ? this.timeoutError(error) : storageError(error, this.#options.name);
      }
    }
  }

  /**
   * Runs `body` inside one write transaction (BEGIN IMMEDIATE), or inside the one already open on
   * this object. On commit, the value files queued by `removeLater` are deleted; on failure, the
   * files written for the transaction are. `writtenFile` is a file written for this operation
   * before it started.
   */
  write<T>(retry: boolean, writtenFile: string | null, body: () => T): T {
    this.#options.beforeWrite?.();
    if (this.#depth > 0) {
      if (writtenFile !== null) this.#written.push(writtenFile);
      return body();
    }
    this.run(retry, writtenFile, () => this.#begin.run());
    this.#depth = 1;
    let result: T;
    try {
      result = body();
      this.#commit.run();
    } catch (error) {
      this.#depth = 0;
      if (this.#db.inTransaction) this.#rollback.run();
      if (writtenFile !== null) this.#removeFile(writtenFile);
      for (const file of this.#written) this.#removeFile(file);
      this.#written = [];
      this.#pendingRemovals = []; // the rows that referenced them are back
      throw isBusy(error) ? this.timeoutError(error) : storageError(error, this.#options.name);
    }
    this.#depth = 0;
    this.#written = [];
    const removals = this.#pendingRemovals;
    if (removals.length > 0) {
      this.#pendingRemovals = [];
      for (const file of removals) this.#removeFile(file);
    }
    return result;
  }

  /**
   * Runs every one of `ops` inside ONE write transaction (group commit), each in a savepoint of its
   * own: an op that throws is undone alone (its rows, and the value files written for it) and its
   * error is returned in its slot, while the others commit together. Throws, committing nothing,
   * when the transaction cannot begin or commit.
   */
  writeEach(ops: readonly (() => unknown)[]): Settled[] {
    this.#savepoints ??= [
      this.#db.prepare('SAVEPOINT diskcache_op'),
      this.#db.prepare('RELEASE diskcache_op'),
      this.#db.prepare('ROLLBACK TO diskcache_op'),
    ];
    const [savepoint, release, rollbackTo] = this.#savepoints;
    return this.write(false, null, () =>
      ops.map((op): Settled => {
        const written = this.#written.length;
        const removals = this.#pendingRemovals.length;
        savepoint.run();
        try {
          const value = op();
          release.run();
          return { ok: true, value };
        } catch (error) {
          rollbackTo.run();
          release.run();
          for (const file of this.#written.splice(written)) this.#removeFile(file);
          this.#pendingRemovals.length = removals; // the rows that referenced them are back
          return { ok: false, error };
        }
      }),
    );
  }

  /** Deletes a value file: by async I/O inside `collectRemovals`, else at once. */
  #removeFile(file: string): void {
    const removeAsync = this.#options.removeFileAsync;
    if (removalSink !== null && removeAsync !== undefined) removalSink.push(removeAsync(file));
    else this.#options.removeFile(file);
  }

  /** Inside `failFast`: SQLite must not sleep in its busy handler on this connection. */
  #enterFailFast(): void {
    if (this.#options.busyWait === 'poll' || failingFast.has(this)) return;
    failingFast.add(this);
    // Prepared once: `db.pragma()` prepares its statement on every call (4 µs more per async
    // write, twice).
    this.#noBusyTimeout ??= this.#db.prepare('PRAGMA busy_timeout = 0');
    this.#noBusyTimeout.get();
  }

  /** @internal Gives the connection its busy timeout back (the end of `failFast`). */
  restoreBusyTimeout(): void {
    if (this.#closed || !this.#db.open) return;
    this.#busyTimeout ??= this.#db.prepare(
      `PRAGMA busy_timeout = ${busyMilliseconds(this.#options.timeout)}`,
    );
    this.#busyTimeout.get();
  }

  /** Deletes a value file now, or after the open transaction commits. Ignores non-strings. */
  removeLater(filename: unknown): void {
    if (typeof filename !== 'string') return;
    if (this.#depth > 0) this.#pendingRemovals.push(filename);
    else this.#removeFile(filename);
  }

  /** Registers value files written for the open transaction (deleted if it rolls back). */
  addWritten(files: readonly string[]): void {
    this.#written.push(...files);
  }

  /** Deletes a file registered by `addWritten`/`write` now (its row was not written after all). */
  discardWritten(file: string): void {
    this.#written = this.#written.filter((written) => written !== file);
    this.#removeFile(file);
  }
}
