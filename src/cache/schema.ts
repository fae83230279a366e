/**
 * schema: opens `cache.db` in python-diskcache's format — tables, indexes, triggers, pragmas and
 * the Settings table — and turns options into settings. It runs once per Cache object, so it
 * favours clarity over speed; it must not hold statements used on the hot path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import {
  checkBoolean,
  checkInteger,
  checkNumber,
  checkOptions,
  checkSeconds,
  type Seconds,
} from './checks.js';
import { whyNotWritten } from './disk.js';
import {
  DatabaseError,
  describeValue,
  isBusy,
  ReadOnlyError,
  storageError,
  Timeout,
} from './errors.js';
import { POLICIES } from './eviction.js';
import type { CacheOptions, EvictionPolicy } from './types.js';
import { Backoff, pauseSync } from './waiting.js';

// better-sqlite3 reads SQLITE_USE_URI once, when its native addon loads (at the first
// `new Database` of the process): URI file names let a read-only directory be opened `immutable`
// (see openReadOnly). Only names that start with "file:" are read as URIs; ours are absolute paths.
process.env.SQLITE_USE_URI ??= '1';

/** The database file of a cache directory (diskcache's name). */
export const DBNAME = 'cache.db';

/** A setting's value as stored in the Settings table. */
export type SettingValue = string | number | bigint | null;

/** diskcache's DEFAULT_SETTINGS, under diskcache's names. */
export const DEFAULT_SETTINGS: Readonly<Record<string, SettingValue>> = Object.freeze({
  statistics: 0,
  tag_index: 0,
  eviction_policy: 'least-recently-stored',
  size_limit: 2 ** 30,
  cull_limit: 10,
  sqlite_auto_vacuum: 1,
  sqlite_cache_size: 2 ** 13,
  sqlite_journal_mode: 'wal',
  sqlite_mmap_size: 2 ** 26,
  sqlite_synchronous: 1,
  disk_min_file_size: 2 ** 15,
  disk_pickle_protocol: 5,
});

/** Rows of Settings kept up to date by triggers and statistics, never overwritten on open. */
export const METADATA: Readonly<Record<string, number>> = Object.freeze({
  count: 0,
  size: 0,
  hits: 0,
  misses: 0,
});

const OPTION_NAMES = new Set([
  'timeout',
  'disk',
  'diskOptions',
  'sizeLimit',
  'cullLimit',
  'evictionPolicy',
  'statistics',
  'tagIndex',
  'readCache',
  'minFileSize',
  'sqlite',
]);
const SQLITE_OPTION_NAMES: Record<string, string> = {
  synchronous: 'sqlite_synchronous',
  journalMode: 'sqlite_journal_mode',
  mmapSize: 'sqlite_mmap_size',
  cacheSize: 'sqlite_cache_size',
  autoVacuum: 'sqlite_auto_vacuum',
  walAutocheckpoint: 'sqlite_wal_autocheckpoint',
};

/** Validates options and converts them to diskcache-named settings (only those given). */
export function optionsToSettings(options: CacheOptions): Record<string, SettingValue> {
  checkOptions(options, OPTION_NAMES);
  const settings: Record<string, SettingValue> = {};
  if (options.timeout !== undefined)
    checkSeconds('timeout', options.timeout, { allowZero: true, allowInfinity: true });
  if (options.sizeLimit !== undefined)
    settings.size_limit = checkNumber('sizeLimit', options.sizeLimit, {
      unit: 'bytes',
      allowInfinity: true,
    });
  if (options.cullLimit !== undefined)
    settings.cull_limit = checkInteger('cullLimit', options.cullLimit);
  if (options.evictionPolicy !== undefined) {
    if (!Object.hasOwn(POLICIES, options.evictionPolicy)) {
      throw new RangeError(
        `evictionPolicy must be one of ${Object.keys(POLICIES).map(describeValue).join(', ')}, got ${describeValue(options.evictionPolicy)}`,
      );
    }
    settings.eviction_policy = options.evictionPolicy;
  }
  if (options.statistics !== undefined)
    settings.statistics = checkBoolean('statistics', options.statistics) ? 1 : 0;
  if (options.tagIndex !== undefined)
    settings.tag_index = checkBoolean('tagIndex', options.tagIndex) ? 1 : 0;
  if (options.minFileSize !== undefined)
    settings.disk_min_file_size = checkInteger('minFileSize', options.minFileSize);
  if (options.diskOptions !== undefined) {
    if (options.diskOptions === null || typeof options.diskOptions !== 'object') {
      throw new TypeError(
        `diskOptions must be an object, got ${describeValue(options.diskOptions)}`,
      );
    }
    for (const [name, value] of Object.entries(options.diskOptions)) {
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new TypeError(
          `diskOptions.${name} must be a string or a number, got ${describeValue(value)}`,
        );
      }
      settings[`disk_${name}`] = value;
    }
  }
  if (options.sqlite !== undefined) {
    if (options.sqlite === null || typeof options.sqlite !== 'object')
      throw new TypeError(`sqlite must be an object, got ${describeValue(options.sqlite)}`);
    for (const [name, value] of Object.entries(options.sqlite)) {
      const setting = SQLITE_OPTION_NAMES[name];
      if (setting === undefined) {
        throw new TypeError(
          `unknown option sqlite.${name}; known: ${Object.keys(SQLITE_OPTION_NAMES).join(', ')}`,
        );
      }
      if (name === 'journalMode') {
        if (
          typeof value !== 'string' ||
          !/^(delete|truncate|persist|memory|wal|off)$/i.test(value)
        ) {
          throw new RangeError(
            `sqlite.journalMode must be one of delete, truncate, persist, memory, wal, off; got ${describeValue(value)}`,
          );
        }
        settings[setting] = value.toLowerCase();
      } else {
        settings[setting] = checkInteger(`sqlite.${name}`, value, {
          min: name === 'cacheSize' ? -(2 ** 31) : 0,
        });
      }
    }
  }
  return settings;
}

/** Binds a setting so that integral numbers are stored as INTEGER, as Python stores them. */
export function bindSetting(value: SettingValue): SettingValue {
  return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value;
}

const TRIGGERS: Record<string, string> = {
  Settings_count_insert:
    'CREATE TRIGGER IF NOT EXISTS Settings_count_insert AFTER INSERT ON Cache FOR EACH ROW BEGIN' +
    " UPDATE Settings SET value = value + 1 WHERE key = 'count'; END",
  Settings_count_delete:
    'CREATE TRIGGER IF NOT EXISTS Settings_count_delete AFTER DELETE ON Cache FOR EACH ROW BEGIN' +
    " UPDATE Settings SET value = value - 1 WHERE key = 'count'; END",
  Settings_size_insert:
    'CREATE TRIGGER IF NOT EXISTS Settings_size_insert AFTER INSERT ON Cache FOR EACH ROW BEGIN' +
    " UPDATE Settings SET value = value + NEW.size WHERE key = 'size'; END",
  Settings_size_update:
    'CREATE TRIGGER IF NOT EXISTS Settings_size_update AFTER UPDATE ON Cache FOR EACH ROW BEGIN' +
    " UPDATE Settings SET value = value + NEW.size - OLD.size WHERE key = 'size'; END",
  Settings_size_delete:
    'CREATE TRIGGER IF NOT EXISTS Settings_size_delete AFTER DELETE ON Cache FOR EACH ROW BEGIN' +
    " UPDATE Settings SET value = value - OLD.size WHERE key = 'size'; END",
};

/** The result of opening a cache directory. */
export interface OpenedDatabase {
  readonly db: Database.Database;
  readonly settings: Record<string, SettingValue>;
  readonly pageSize: number;
  /**
   * Opened for reading only (a read-only directory, file or mount): writes throw ReadOnlyError,
   * and reads record neither access times nor statistics.
   */
  readonly readOnly: boolean;
}

/** Applies a `sqlite_*` setting as a pragma, only when it differs (some pragmas are slow to re-set). */
export function applyPragma(db: Database.Database, setting: string, value: SettingValue): void {
  const pragma = setting.slice('sqlite_'.length);
  if (!/^[a-z_]+$/.test(pragma))
    throw new RangeError(`invalid pragma name ${JSON.stringify(pragma)}`);
  const current = db.pragma(pragma, { simple: true }) as SettingValue;
  if (current !== undefined && String(current).toLowerCase() === String(value).toLowerCase())
    return;
  const literal = typeof value === 'string' ? `'${value.replaceAll("'", "''")}'` : String(value);
  db.pragma(`${pragma} = ${literal}`);
}

/** How to open a cache database (see `openDatabase`). */
export interface OpenOptions {
  /** Settings given by the opener (diskcache names); they overwrite the stored ones. */
  readonly given: Record<string, SettingValue>;
  /**
   * Seconds to wait for the write lock while bringing the database up to date (most opens find
   * it up to date and take no lock). Infinity: as long as it takes.
   */
  readonly openTimeout: Seconds;
  /** The connection's busy timeout afterwards, in seconds; 0 for none (the caller polls). */
  readonly busyTimeout: Seconds;
  /** Settings stored as REAL even when integral (Python floats: a FanoutCache shard's size_limit). */
  readonly realSettings?: readonly string[];
}

/** SQLite's busy timeout in milliseconds, clamped: it reads anything above 2^31-1 (or Infinity) as 0. */
export function busyMilliseconds(seconds: Seconds): number {
  return Math.min(Math.round(seconds * 1000), 2_147_483_647);
}

/**
 * Opens (creating if needed) the cache database in `directory` and brings it to diskcache's
 * format. Settings: defaults, overridden by those stored, overridden by `options.given`.
 * @throws DatabaseError when the directory or cache.db cannot be used; Timeout when another
 * process holds the write lock for longer than `openTimeout` while this one must write.
 */
export function openDatabase(directory: string, options: OpenOptions): OpenedDatabase {
  try {
    fs.mkdirSync(directory, { recursive: true, mode: 0o755 });
  } catch (error) {
    const storage = storageError(
      whyNotWritten(error, directory),
      `creating the cache directory ${JSON.stringify(directory)}`,
    );
    if (storage !== error) throw storage; // a read-only parent, a full disk
    throw new DatabaseError(
      `cache directory ${JSON.stringify(directory)} does not exist and could not be created: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const file = path.join(directory, DBNAME);
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: busyMilliseconds(options.openTimeout) });
  } catch (error) {
    if (!isWritable(directory))
      throw new ReadOnlyError(
        `cannot create ${file}: the directory is read-only (${(error as Error).message})`,
        { cause: error },
      );
    throw new DatabaseError(`cannot open ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const settings = initialiseRetrying(
      db,
      options.given,
      options.realSettings ?? [],
      options.openTimeout,
    );
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`busy_timeout = ${busyMilliseconds(options.busyTimeout)}`);
    return { db, settings, pageSize, readOnly: false };
  } catch (error) {
    db.close();
    const storage = storageError(error, `opening ${file}`);
    // A read-only directory, file or mount: open it for reading (writes then throw ReadOnlyError).
    // (SQLITE_CANTOPEN alone may be something else: too many open files.)
    if (
      storage instanceof ReadOnlyError ||
      (isReadOnlyCode(error) && fs.existsSync(file) && !isWritable(directory))
    )
      return openReadOnly(file, options, error);
    if (storage !== error) throw storage; // a full disk
    const code = (error as { code?: string }).code;
    if (
      code === 'SQLITE_NOTADB' ||
      code === 'SQLITE_CORRUPT' ||
      code?.startsWith('SQLITE_CORRUPT')
    ) {
      throw new DatabaseError(
        `${file} is not a valid cache database (${(error as Error).message}); move it away or delete the directory to start afresh`,
        { cause: error },
      );
    }
    if (isBusy(error)) {
      throw new Timeout(
        `could not get the write lock of ${file} within ${options.openTimeout} s to initialise it (another process holds it)`,
        { cause: error },
      );
    }
    if (isReadOnlyCode(error) || code?.startsWith('SQLITE_IOERR')) {
      throw new DatabaseError(`cannot write ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function isReadOnlyCode(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (
    typeof code === 'string' &&
    (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM')
  );
}

function isWritable(directory: string): boolean {
  try {
    fs.accessSync(directory, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A read-only connection to `file` in a directory this process cannot write: with its `-wal`
 * present, an ordinary read-only open (SQLite reads the `-wal` and `-shm`); without, an
 * `immutable` one (SQLite cannot create the `-shm` a WAL database needs, and every change is in
 * the main file).
 */
export function openForReading(file: string, timeout = 0): Database.Database {
  return fs.existsSync(`${file}-wal`)
    ? new Database(file, { readonly: true, fileMustExist: true, timeout })
    : new Database(`${pathToFileURL(file).href}?immutable=1`, { readonly: true, timeout });
}

/** The file of a connection (`db.name`, without the `file:` URI of a read-only open). */
export function databaseFile(db: Database.Database): string {
  return db.name.startsWith('file:') ? fileURLToPath(db.name.replace(/\?.*$/, '')) : db.name;
}

/**
 * Opens `file` for reading only, after a read-write open failed with `cause` (a read-only
 * directory, file or mount). With its `-wal` file present, SQLite reads it read-only (it needs the
 * `-shm` file too, readable); with no `-wal` (every change is in `cache.db`: the last writer closed
 * it cleanly), SQLite cannot create the `-shm` file it needs, so the file is opened `immutable`
 * (no locks, no `-shm`): right for a read-only mount or snapshot, wrong if another user writes the
 * directory meanwhile (documented in docs/reliability.md). Nothing is written: settings given by
 * the opener apply to this object only.
 */
function openReadOnly(file: string, options: OpenOptions, cause: unknown): OpenedDatabase {
  const timeout = busyMilliseconds(options.busyTimeout);
  let db: Database.Database | undefined;
  try {
    db = openForReading(file, timeout);
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('Settings', 'Cache')",
      )
      .pluck()
      .all();
    if (tables.length < 2) {
      db.close();
      throw new ReadOnlyError(
        `cannot initialise ${file}: it is read-only and holds no cache yet (${(cause as Error).message})`,
        { cause },
      );
    }
    checkTables(db, file);
    const stored = Object.fromEntries(
      db.prepare('SELECT key, value FROM Settings').raw().all() as [string, SettingValue][],
    );
    const settings: Record<string, SettingValue> = {
      ...DEFAULT_SETTINGS,
      ...stored,
      ...options.given,
    };
    for (const name of Object.keys(METADATA)) delete settings[name];
    checkSettings(settings, file);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    return { db, settings, pageSize, readOnly: true };
  } catch (error) {
    if (db?.open) db.close();
    if (error instanceof DatabaseError) throw error;
    throw new ReadOnlyError(
      `cannot open ${file} for reading (${(error as Error).message}); the read-write open failed with: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * `initialise`, retried while the database is busy, for up to `timeoutSeconds` (diskcache's
 * `_sql_retry` waits 60 s). When several processes open a new cache at once, SQLite answers some
 * statements (changing the journal mode, a lock upgrade it would otherwise deadlock on) with
 * "database is locked" at once, without waiting in its busy handler. `initialise` is idempotent
 * and its writes are one transaction, so trying again is safe.
 */
function initialiseRetrying(
  db: Database.Database,
  given: Record<string, SettingValue>,
  realSettings: readonly string[],
  timeoutSeconds: Seconds,
): Record<string, SettingValue> {
  const deadline = performance.now() + timeoutSeconds * 1000;
  const backoff = new Backoff({ firstMs: 1, maxMs: 5 });
  for (;;) {
    try {
      return initialise(db, given, realSettings);
    } catch (error) {
      if (!isBusy(error) || performance.now() >= deadline) throw error;
      pauseSync(backoff.next());
    }
  }
}

function initialise(
  db: Database.Database,
  given: Record<string, SettingValue>,
  realSettings: readonly string[],
): Record<string, SettingValue> {
  let stored: Record<string, SettingValue> = {};
  // Floats stay floats: a REAL read back (a FanoutCache shard's size_limit) is written back as REAL.
  const real = new Set(realSettings);
  const hasSettings = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Settings'")
    .get();
  checkTables(db, databaseFile(db));
  if (hasSettings) {
    const rows = db.prepare('SELECT key, value, typeof(value) FROM Settings').raw().all() as [
      string,
      SettingValue,
      string,
    ][];
    stored = Object.fromEntries(rows.map(([name, value]) => [name, value]));
    for (const [name, , type] of rows) if (type === 'real' && !(name in given)) real.add(name);
  }
  const settings: Record<string, SettingValue> = { ...DEFAULT_SETTINGS, ...stored, ...given };
  for (const name of Object.keys(METADATA)) delete settings[name];
  checkSettings(settings, databaseFile(db));

  // Pragmas first: auto_vacuum must precede the first CREATE TABLE to take effect.
  for (const name of Object.keys(settings).sort()) {
    if (name.startsWith('sqlite_')) applyPragma(db, name, settings[name]!);
  }

  // Most opens find everything in place: then they write nothing and take no write lock, so
  // opening a cache never waits behind a long transaction of another process.
  if (hasSettings && isUpToDate(db, settings, stored, real)) return settings;

  db.prepare('BEGIN IMMEDIATE').run();
  try {
    db.exec('CREATE TABLE IF NOT EXISTS Settings ( key TEXT NOT NULL UNIQUE, value)');
    const replace = db.prepare('INSERT OR REPLACE INTO Settings VALUES (?, ?)');
    for (const [name, value] of Object.entries(settings)) {
      replace.run(name, real.has(name) && typeof value === 'number' ? value : bindSetting(value));
    }
    const ignore = db.prepare('INSERT OR IGNORE INTO Settings VALUES (?, ?)');
    for (const [name, value] of Object.entries(METADATA)) ignore.run(name, BigInt(value));
    db.exec(
      'CREATE TABLE IF NOT EXISTS Cache ( rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER,' +
        ' store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0,' +
        ' tag BLOB, size INTEGER DEFAULT 0, mode INTEGER DEFAULT 0, filename TEXT, value BLOB)',
    );
    db.exec('CREATE UNIQUE INDEX IF NOT EXISTS Cache_key_raw ON Cache(key, raw)');
    db.exec('CREATE INDEX IF NOT EXISTS Cache_expire_time ON Cache (expire_time)');
    const policyIndex = POLICIES[settings.eviction_policy as EvictionPolicy].init;
    if (policyIndex) db.exec(policyIndex);
    rewriteDoubleQuotedTriggers(db);
    for (const sql of Object.values(TRIGGERS)) db.exec(sql);
    if (Number(settings.tag_index))
      db.exec('CREATE INDEX IF NOT EXISTS Cache_tag_rowid ON Cache(tag, rowid)');
    else db.exec('DROP INDEX IF EXISTS Cache_tag_rowid');
    db.prepare('COMMIT').run();
  } catch (error) {
    if (db.inTransaction) db.prepare('ROLLBACK').run();
    throw error;
  }
  return settings;
}

/** The option that sets each checked setting (a DatabaseError tells the user which to pass). */
const OPTION_OF_SETTING: Readonly<Record<string, string>> = {
  size_limit: 'sizeLimit',
  cull_limit: 'cullLimit',
  eviction_policy: 'evictionPolicy',
  statistics: 'statistics',
  tag_index: 'tagIndex',
  disk_min_file_size: 'minFileSize',
  sqlite_auto_vacuum: 'sqlite.autoVacuum',
  sqlite_cache_size: 'sqlite.cacheSize',
  sqlite_journal_mode: 'sqlite.journalMode',
  sqlite_mmap_size: 'sqlite.mmapSize',
  sqlite_synchronous: 'sqlite.synchronous',
  sqlite_wal_autocheckpoint: 'sqlite.walAutocheckpoint',
};

const isCount = (value: SettingValue, min = 0): boolean =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min;

/** What each setting must be: a description, and the test. */
const SETTING_RULES: Readonly<Record<string, [string, (value: SettingValue) => boolean]>> = {
  size_limit: [
    'a number of bytes >= 0',
    (value) => typeof value === 'number' && !Number.isNaN(value) && value >= 0,
  ],
  cull_limit: ['an integer >= 0', (value) => isCount(value)],
  eviction_policy: [
    `one of ${Object.keys(POLICIES).map(describeValue).join(', ')}`,
    (value) => Object.hasOwn(POLICIES, String(value)),
  ],
  statistics: ['0 or 1', (value) => value === 0 || value === 1],
  tag_index: ['0 or 1', (value) => value === 0 || value === 1],
  disk_min_file_size: ['an integer >= 0', (value) => isCount(value)],
  sqlite_auto_vacuum: ['0, 1 or 2', (value) => value === 0 || value === 1 || value === 2],
  sqlite_cache_size: ['an integer', (value) => isCount(value, -(2 ** 31))],
  sqlite_journal_mode: [
    'one of delete, truncate, persist, memory, wal, off',
    (value) =>
      typeof value === 'string' && /^(delete|truncate|persist|memory|wal|off)$/i.test(value),
  ],
  sqlite_mmap_size: ['an integer >= 0', (value) => isCount(value)],
  sqlite_synchronous: ['0, 1, 2 or 3', (value) => isCount(value) && (value as number) <= 3],
  sqlite_wal_autocheckpoint: ['an integer >= 0', (value) => isCount(value)],
};

/**
 * Checks the settings a cache opens with (stored ones may come from another program, or be
 * corrupt): a value this library cannot use is a DatabaseError naming the setting, never a silent
 * change of behaviour (diskcache would fail later, or cull nothing).
 */
export function checkSettings(settings: Record<string, SettingValue>, file: string): void {
  for (const [name, [expected, test]] of Object.entries(SETTING_RULES)) {
    if (!(name in settings) || test(settings[name]!)) continue;
    const option = OPTION_OF_SETTING[name];
    throw new DatabaseError(
      `${file}: the stored setting ${name} is ${describeValue(settings[name])}, expected ${expected}; open the cache with the option ${option} to overwrite it`,
    );
  }
}

/** diskcache's columns of its two tables, in order. */
const COLUMNS: Readonly<Record<string, readonly string[]>> = {
  Settings: ['key', 'value'],
  Cache: [
    'rowid',
    'key',
    'raw',
    'store_time',
    'expire_time',
    'access_time',
    'access_count',
    'tag',
    'size',
    'mode',
    'filename',
    'value',
  ],
};

/**
 * Checks that the Settings and Cache tables that exist have diskcache's columns: a table of another
 * program (or another version) is a DatabaseError naming the column, not a raw SqliteError later.
 */
export function checkTables(db: Database.Database, file: string): void {
  for (const [table, expected] of Object.entries(COLUMNS)) {
    const columns = db
      .prepare(`SELECT name FROM pragma_table_info('${table}')`)
      .pluck()
      .all() as string[];
    if (columns.length === 0) continue; // not created yet
    const missing = expected.filter((name) => !columns.includes(name));
    const extra = columns.filter((name) => !expected.includes(name));
    if (missing.length === 0 && extra.length === 0) continue;
    const what = [
      missing.length ? `no column ${missing.join(', ')}` : '',
      extra.length ? `an unknown column ${extra.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    throw new DatabaseError(
      `${file} is not a diskcache database: its ${table} table has ${what} (expected ${expected.join(', ')})`,
    );
  }
}

/** The SQLite type a setting is written with (see `initialise`). */
function storedType(value: SettingValue, asReal: boolean): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'bigint') return 'integer';
  return !asReal && Number.isSafeInteger(value) ? 'integer' : 'real';
}

/**
 * Whether the database already holds exactly these settings (same values and SQLite types), the
 * metadata rows, and every table, index and (single-quoted) trigger that `initialise` creates.
 */
function isUpToDate(
  db: Database.Database,
  settings: Record<string, SettingValue>,
  stored: Record<string, SettingValue>,
  real: ReadonlySet<string>,
): boolean {
  const types = new Map(
    (db.prepare('SELECT key, typeof(value) FROM Settings').raw().all() as [string, string][]).map(
      ([name, type]) => [name, type],
    ),
  );
  for (const [name, value] of Object.entries(settings)) {
    const asReal = real.has(name) && typeof value === 'number';
    if (types.get(name) !== storedType(value, asReal)) return false;
    if (String(stored[name]) !== String(value)) return false;
  }
  for (const name of Object.keys(METADATA)) if (!types.has(name)) return false;
  const objects = new Map(
    (
      db.prepare("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'Cache'").raw().all() as [
        string,
        string | null,
      ][]
    ).map(([name, sql]) => [name, sql ?? '']),
  );
  const policyIndex = /INDEX IF NOT EXISTS (\w+)/.exec(
    POLICIES[settings.eviction_policy as EvictionPolicy].init ?? '',
  )?.[1];
  const required = [
    'Cache',
    'Cache_key_raw',
    'Cache_expire_time',
    ...Object.keys(TRIGGERS),
    ...(policyIndex ? [policyIndex] : []),
  ];
  if (required.some((name) => !objects.has(name))) return false;
  for (const name of Object.keys(TRIGGERS)) if (objects.get(name)!.includes('"')) return false;
  return objects.has('Cache_tag_rowid') === Boolean(Number(settings.tag_index));
}

/**
 * Python's diskcache writes its triggers with double-quoted literals (`WHERE key = "count"`).
 * better-sqlite3's SQLite is built with DQS=0, where such a trigger fails on every write. Replace
 * each one with the same trigger using single quotes; Python keeps them (it creates IF NOT EXISTS).
 */
function rewriteDoubleQuotedTriggers(db: Database.Database): void {
  const rows = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'Cache'")
    .raw()
    .all() as [string, string][];
  for (const [name, sql] of rows) {
    if (!sql.includes('"')) continue;
    const replacement = TRIGGERS[name];
    if (replacement === undefined) {
      // An unknown trigger of someone else's: rewrite its literals in place.
      db.exec(`DROP TRIGGER "${name.replaceAll('"', '""')}"`);
      db.exec(sql.replace(/"(count|size|hits|misses)"/g, "'$1'"));
      continue;
    }
    db.exec(`DROP TRIGGER ${name}`);
    db.exec(replacement);
  }
}
