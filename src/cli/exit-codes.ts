/**
 * Exit codes of the `diskcache` CLI and the mapping from errors to them. Every command group
 * throws `CliError` (or lets an engine error through) and main.ts turns it into an exit code
 * here, so the codes mean the same thing in every group. This file must not print anything.
 */
import {
  DatabaseError,
  isBusy,
  ReadOnlyError,
  StorageFullError,
  Timeout,
} from '../cache/errors.js';

/** The exit codes, documented in `diskcache --help` and docs/cli.md. */
export const EXIT = Object.freeze({
  /** Success. */
  OK: 0,
  /** The key (or item) asked for does not exist: `get` or `delete` of a missing key. */
  NOT_FOUND: 1,
  /** Bad usage: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /** `check` found problems (without `--fix`, or problems that `--fix` could not repair). */
  CHECK_PROBLEMS: 3,
  /** The cache's write lock could not be had within `--timeout` seconds. */
  TIMEOUT: 4,
  /**
   * The cache directory is missing, is not a cache, or its database is unusable; or the work
   * queue a reading command names does not exist (a directory or a Redis locator).
   */
  BAD_DIRECTORY: 5,
  /** Anything else: a value this process cannot decode, an I/O error, a bug. */
  FAILURE: 6,
  /** The disk or the database is full: nothing was written. */
  STORAGE_FULL: 7,
  /** The directory or cache.db cannot be written (a read-only mount, no permission). */
  READ_ONLY: 8,
  /**
   * Stopped by Ctrl-C (SIGINT) or SIGTERM before it finished (128 + SIGINT's 2): `crawl`, whose
   * work is resumable, and a second Ctrl-C of `work`.
   */
  INTERRUPTED: 130,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The help text listing the exit codes (shared by `--help` and the docs test). */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  not found (a missing key, an empty deque)
  2  usage error (unknown command or option, bad argument)
  3  check found problems (without --fix, or left after --fix)
  4  timeout: the cache's write lock was busy for longer than --timeout
  5  bad cache directory or queue (missing, not a cache or queue, or an unusable cache.db)
  6  any other failure
  7  the disk or the database is full (nothing was written)
  8  the directory or cache.db cannot be written (read-only)
  130  interrupted by Ctrl-C or SIGTERM before it finished (crawl; a second Ctrl-C of work)`;

/** A failure a command reports to the user with a chosen exit code; `details` go to --json output. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(
    exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.details = options?.details ?? {};
  }
}

/** A short machine-readable name of an exit code, used in `--json` error documents. */
export function exitCodeName(code: ExitCode): string {
  switch (code) {
    case EXIT.OK:
      return 'ok';
    case EXIT.NOT_FOUND:
      return 'not-found';
    case EXIT.USAGE:
      return 'usage';
    case EXIT.CHECK_PROBLEMS:
      return 'check-problems';
    case EXIT.TIMEOUT:
      return 'timeout';
    case EXIT.BAD_DIRECTORY:
      return 'bad-directory';
    case EXIT.STORAGE_FULL:
      return 'storage-full';
    case EXIT.READ_ONLY:
      return 'read-only';
    case EXIT.INTERRUPTED:
      return 'interrupted';
    default:
      return 'failure';
  }
}

/**
 * The exit code of an error thrown by a command. Arguments are validated by the CLI before they
 * reach the engine (as `CliError` with EXIT.USAGE), so a `TypeError` here is a bug: FAILURE.
 */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof Timeout || isBusy(error)) return EXIT.TIMEOUT;
  if (error instanceof StorageFullError) return EXIT.STORAGE_FULL;
  if (error instanceof ReadOnlyError) return EXIT.READ_ONLY;
  if (error instanceof DatabaseError) return EXIT.BAD_DIRECTORY;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')))
    return EXIT.BAD_DIRECTORY;
  return EXIT.FAILURE;
}
