/**
 * work-queue-schema: the WorkQueue's tables inside a cache directory's `cache.db`, its persisted
 * settings and the validation of its options. It runs when a queue is opened, so it favours
 * clarity over speed. It also prepares the statements WorkQueue runs (in one place, next to the
 * tables they touch), but never runs them: work-queue.ts does.
 *
 * Layout (documented in docs/work-queue.md): `WorkQueue_jobs` holds one row per job, indexed on
 * (state, available_at) so that "the next ready job" and "the expired leases" are both range
 * scans; `WorkQueue_settings` keeps the queue's options so that later openers inherit them, as
 * diskcache's Settings table does for a cache. Python's diskcache ignores both tables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { Seconds } from '../cache/checks.js';
import { Disk, PickleDisk } from '../cache/disk.js';
import { DatabaseError, describeValue, ReadOnlyError } from '../cache/errors.js';
import { DBNAME, databaseFile, openForReading } from '../cache/schema.js';
import {
  checkQueueSettings,
  DEFAULT_QUEUE_SETTINGS,
  NUMERIC_SETTINGS,
  type QueueSettings,
  type ResultsFormat,
  SETTING_NAMES,
} from './work-queue-settings.js';

/** Version of the tables below; a newer one on disk is refused rather than misread. */
export const SCHEMA_VERSION = 1;

/** `state` column values. */
export const PENDING = 0;
export const LEASED = 1;
export const DONE = 2;
export const FAILED = 3;

/** Options of `new WorkQueue(directory, options)`; every field is persisted for later openers. */
export interface WorkQueueOptions {
  /**
   * How long a taken job stays leased to its worker, in seconds, unless extended. When it runs
   * out the job goes back to pending and another worker may take it.
   * @default 30
   */
  readonly leaseSeconds?: Seconds;
  /**
   * How many times a job is handed out before it moves to the failed list. A lease that expires
   * (the worker died or stalled) counts as an attempt, so a job that crashes its worker every time
   * does not loop forever.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Base of the exponential backoff after `fail()`, in seconds: attempt n waits
   * `backoffSeconds * 2 ** (n - 1)`, at most an hour (or `backoffSeconds` if that is larger).
   * @default 1
   */
  readonly backoffSeconds?: Seconds;
  /**
   * Seconds to wait for the database write lock before throwing `Timeout`. Not persisted.
   * @default 60
   */
  readonly timeout?: Seconds;
  /**
   * How results are written: `PickleDisk` writes objects, arrays and null as pickle, so Python's
   * `diskcache.Index(directory + '/results')` reads them as dicts, lists and None; `Disk` (the
   * default) writes them with v8's structured clone (any value structured clone carries). Only
   * these two classes: the choice is persisted, so every process that opens the queue, the
   * runner's workers included, writes results the same way. Both read either format.
   * @default Disk, or the stored choice
   */
  readonly disk?: typeof Disk;
  /**
   * The pid of a process that gives back this process's leases itself if this one dies (the
   * runner's parent does, with `releaseById`): while it runs, other processes do not reclaim the
   * leases of this dead one at once. Not persisted.
   */
  readonly leaseSupervisor?: number;
}

export {
  DEFAULT_QUEUE_SETTINGS,
  type NumericQueueSetting,
  type QueueSettings,
  type ResultsFormat,
} from './work-queue-settings.js';

const RESULTS_FORMATS: readonly ResultsFormat[] = ['default', 'pickle'];

/** Validates the constructor's options; returns the settings given (only those). */
export function checkQueueOptions(options: WorkQueueOptions): Partial<QueueSettings> {
  const given = checkQueueSettings(options);
  if (options.disk !== undefined) {
    if (options.disk !== Disk && options.disk !== PickleDisk) {
      throw new TypeError(
        `disk must be Disk or PickleDisk (a WorkQueue persists the results format), got ${describeValue(options.disk)}`,
      );
    }
    given.resultsFormat = options.disk === PickleDisk ? 'pickle' : 'default';
  }
  return given;
}

/** Whether `directory` holds a work queue. A read-only look: nothing is created or locked. */
export function isWorkQueueDirectory(directory: string): boolean {
  const file = path.join(directory, DBNAME);
  if (!fs.existsSync(file)) return false;
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.prepare('SELECT 1 FROM sqlite_master').get();
  } catch {
    db = openForReading(file); // a read-only directory
  }
  try {
    return (
      db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'WorkQueue_jobs'")
        .get() !== undefined
    );
  } finally {
    db.close();
  }
}

const DDL = [
  'CREATE TABLE IF NOT EXISTS WorkQueue_settings (key TEXT PRIMARY KEY, value)',
  // available_at: when a pending job becomes ready, or when a leased job's lease runs out.
  // lease_token: bumped at every lease and never reset, so that (id, lease_token) names one lease.
  // payload: JSON text when JSON represents the value exactly, else v8's structured clone (BLOB).
  'CREATE TABLE IF NOT EXISTS WorkQueue_jobs (id INTEGER PRIMARY KEY, key TEXT, state INTEGER NOT NULL,' +
    ' available_at REAL NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, lease_token INTEGER NOT NULL DEFAULT 0,' +
    ' payload, error TEXT, created_at REAL NOT NULL, finished_at REAL)',
  // Partial: most jobs have no key, and an index entry per NULL would cost every put.
  'CREATE UNIQUE INDEX IF NOT EXISTS WorkQueue_jobs_key ON WorkQueue_jobs (key) WHERE key IS NOT NULL',
  'CREATE INDEX IF NOT EXISTS WorkQueue_jobs_state_available ON WorkQueue_jobs (state, available_at)',
];

/**
 * Columns added after version 1 shipped, to tables of any age (older readers ignore them, so the
 * schema version stays 1). holder: who took the lease (lease-holder.ts), so that a process on the
 * same machine can reclaim at once the leases of a dead one; holder_lease: the lease_token it was
 * written for, so a lease taken by an older version (which leaves holder alone) has no holder.
 */
const ADDED_COLUMNS: readonly [string, string][] = [
  ['holder', 'holder TEXT'],
  ['holder_lease', 'holder_lease INTEGER'],
];

/**
 * Creates the queue's tables if needed (in one write transaction) and returns the settings:
 * defaults, overridden by those stored, overridden by `given` (which are then stored).
 */
export function initialiseQueue(
  db: Database.Database,
  given: Partial<QueueSettings>,
  readOnly = false,
): QueueSettings {
  if (readOnly) return readQueueSettings(db, given);
  db.prepare('BEGIN IMMEDIATE').run();
  try {
    for (const sql of DDL) db.exec(sql);
    const columns = new Set(
      db
        .prepare("SELECT name FROM pragma_table_info('WorkQueue_jobs')")
        .pluck(true)
        .all() as string[],
    );
    for (const [name, definition] of ADDED_COLUMNS)
      if (!columns.has(name)) db.exec(`ALTER TABLE WorkQueue_jobs ADD COLUMN ${definition}`);
    const read = db.prepare('SELECT value FROM WorkQueue_settings WHERE key = ?').pluck(true);
    const write = db.prepare(
      'INSERT OR REPLACE INTO WorkQueue_settings (key, value) VALUES (?, ?)',
    );
    const version = read.get('version') as number | undefined;
    if (version !== undefined && version > SCHEMA_VERSION) {
      throw new RangeError(
        `this work queue was written by a newer node-diskcache (schema version ${version}; this one reads ${SCHEMA_VERSION})`,
      );
    }
    if (version === undefined) write.run('version', BigInt(SCHEMA_VERSION));
    const settings = storedSettings(read, given);
    for (const name of NUMERIC_SETTINGS) {
      const value = given[name];
      if (value !== undefined)
        write.run(SETTING_NAMES[name], Number.isSafeInteger(value) ? BigInt(value) : value);
    }
    if (given.resultsFormat !== undefined)
      write.run(SETTING_NAMES.resultsFormat, given.resultsFormat);
    db.prepare('COMMIT').run();
    return settings;
  } catch (error) {
    if (db.inTransaction) db.prepare('ROLLBACK').run();
    throw error;
  }
}

/**
 * The settings of a queue opened for reading only (a read-only directory): nothing is written;
 * settings given apply to this object only.
 */
function readQueueSettings(db: Database.Database, given: Partial<QueueSettings>): QueueSettings {
  const tables = db
    .prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'WorkQueue_settings'",
    )
    .pluck()
    .get() as number;
  if (tables === 0)
    throw new ReadOnlyError(
      `${databaseFile(db)} holds no work queue yet and its directory is read-only`,
    );
  return storedSettings(
    db.prepare('SELECT value FROM WorkQueue_settings WHERE key = ?').pluck(true),
    given,
  );
}

/** Defaults, overridden by the settings stored, overridden by `given`. */
function storedSettings(read: Database.Statement, given: Partial<QueueSettings>): QueueSettings {
  const settings = { ...DEFAULT_QUEUE_SETTINGS };
  for (const name of NUMERIC_SETTINGS) {
    const stored = read.get(SETTING_NAMES[name]);
    if (typeof stored === 'number') settings[name] = stored;
  }
  const format = read.get(SETTING_NAMES.resultsFormat);
  if (format !== undefined) {
    if (!RESULTS_FORMATS.includes(format as ResultsFormat)) {
      throw new DatabaseError(
        `the work queue's setting results_format is ${describeValue(format)}: expected 'default' or 'pickle'`,
      );
    }
    settings.resultsFormat = format as ResultsFormat;
  }
  // `given` holds only the options given (see checkQueueOptions).
  return { ...settings, ...given };
}

/** Prepares every statement a WorkQueue runs (once per connection; none is built on a hot path). */
export function prepareQueueStatements(db: Database.Database): QueueStatements {
  const raw = (sql: string) => db.prepare(sql).raw(true);
  const jobs = 'WorkQueue_jobs';
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    // The new row's id comes from the run's lastInsertRowid (changes 0: the key existed), not from
    // RETURNING, which made each insert 0.7-1 µs slower (raw: 2.4-3.4 against 1.7-2.4 µs;
    // docs/benchmarks.md, "malloc").
    insert: db.prepare(
      `INSERT INTO ${jobs} (key, state, available_at, payload, created_at, holder) VALUES (?, ${PENDING}, ?, ?, ?, ?)` +
        ' ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING',
    ),
    // Read first, without the write lock: an idle poll must not serialize the workers.
    ready: raw(
      `SELECT EXISTS (SELECT 1 FROM ${jobs} WHERE state = ${PENDING} AND available_at <= ?),` +
        ` EXISTS (SELECT 1 FROM ${jobs} WHERE state = ${LEASED} AND available_at <= ?)`,
    ),
    reclaim: db.prepare(
      `UPDATE ${jobs} SET state = CASE WHEN attempt >= @max THEN ${FAILED} ELSE ${PENDING} END,` +
        " error = CASE WHEN attempt >= @max THEN 'the lease of attempt ' || attempt || ' expired: the worker died, stalled or was stopped' ELSE error END," +
        ' finished_at = CASE WHEN attempt >= @max THEN @now ELSE NULL END' +
        ` WHERE state = ${LEASED} AND available_at <= @now`,
    ),
    // The holders of the current leases (NULL: unknown), for the reclaim of dead ones.
    holders: raw(
      `SELECT CASE WHEN holder_lease = lease_token THEN holder END AS h, count(*), min(available_at)` +
        ` FROM ${jobs} WHERE state = ${LEASED} GROUP BY h`,
    ),
    // Like `reclaim`, for the leases of one holder that is gone (see lease-holder.ts).
    reclaimHolder: db.prepare(
      `UPDATE ${jobs} SET state = CASE WHEN attempt >= @max THEN ${FAILED} ELSE ${PENDING} END, available_at = @now,` +
        " error = CASE WHEN attempt >= @max THEN 'the lease of attempt ' || attempt || ' was held by process ' || @pid || ', which died' ELSE error END," +
        ' finished_at = CASE WHEN attempt >= @max THEN @now ELSE NULL END' +
        ` WHERE state = ${LEASED} AND holder = @holder AND holder_lease = lease_token`,
    ),
    // A take is these two, in one transaction: the ids of the next ready jobs, then a lease on
    // each. One `UPDATE … WHERE id IN (SELECT … ORDER BY … LIMIT ?) RETURNING …` did the same in
    // a statement, but once jobs were being put between takes (a crawl's frontier) it took 5-6x
    // as long as this pair (300 µs against 55 µs for 6 jobs): SQLite keeps a multi-row
    // RETURNING's rows in an ephemeral table whose memory glibc gave back and took again at
    // every statement (docs/benchmarks.md, "A take" and "malloc").
    claimIds: db
      .prepare(
        `SELECT id FROM ${jobs} WHERE state = ${PENDING} AND available_at <= ? ORDER BY available_at, id LIMIT ?`,
      )
      .pluck(true),
    claim: raw(
      `UPDATE ${jobs} SET state = ${LEASED}, available_at = ?, attempt = attempt + 1, lease_token = lease_token + 1,` +
        ` holder = ?, holder_lease = lease_token + 1 WHERE id = ? AND state = ${PENDING} RETURNING id, key, attempt, lease_token, payload`,
    ),
    ack: db.prepare(
      `UPDATE ${jobs} SET state = ${DONE}, payload = NULL, error = NULL, finished_at = ? WHERE id = ? AND lease_token = ? AND state = ${LEASED}`,
    ),
    fail: db.prepare(
      `UPDATE ${jobs} SET state = ?, available_at = ?, error = ?, finished_at = ? WHERE id = ? AND lease_token = ? AND state = ${LEASED}`,
    ),
    extend: db.prepare(
      `UPDATE ${jobs} SET available_at = ? WHERE id = ? AND lease_token = ? AND state = ${LEASED}`,
    ),
    release: db.prepare(
      `UPDATE ${jobs} SET state = ${PENDING}, available_at = ?, attempt = attempt - 1 WHERE id = ? AND lease_token = ? AND state = ${LEASED}`,
    ),
    lookup: raw(`SELECT state, attempt, lease_token FROM ${jobs} WHERE id = ?`),
    stats: raw(
      `SELECT (SELECT count(*) FROM ${jobs} WHERE state = ${PENDING}), (SELECT count(*) FROM ${jobs} WHERE state = ${LEASED}),` +
        ` (SELECT count(*) FROM ${jobs} WHERE state = ${DONE}), (SELECT count(*) FROM ${jobs} WHERE state = ${FAILED})`,
    ),
    drained: raw(
      `SELECT NOT EXISTS (SELECT 1 FROM ${jobs} WHERE state = ${PENDING}) AND NOT EXISTS (SELECT 1 FROM ${jobs} WHERE state = ${LEASED})`,
    ).pluck(true),
    failed: raw(
      `SELECT id, key, attempt, error, finished_at, payload FROM ${jobs} WHERE state = ${FAILED} AND id > ? ORDER BY id LIMIT ?`,
    ),
    retryFailed: db.prepare(
      `UPDATE ${jobs} SET state = ${PENDING}, attempt = 0, available_at = ?, error = NULL, finished_at = NULL WHERE state = ${FAILED}`,
    ),
    purgeDone: db.prepare(`DELETE FROM ${jobs} WHERE state = ${DONE} AND finished_at <= ?`),
  };
}

/** The prepared statements of one queue connection. */
export type QueueStatements = Readonly<
  Record<
    | 'begin'
    | 'commit'
    | 'rollback'
    | 'insert'
    | 'ready'
    | 'reclaim'
    | 'holders'
    | 'reclaimHolder'
    | 'claimIds'
    | 'claim'
    | 'ack'
    | 'fail'
    | 'extend'
    | 'release'
    | 'lookup'
    | 'stats'
    | 'drained'
    | 'failed'
    | 'retryFailed'
    | 'purgeDone',
    Database.Statement
  >
>;
