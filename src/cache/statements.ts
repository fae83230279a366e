/**
 * statements: every SQL statement the Cache runs, prepared once per connection (and again when a
 * setting that shapes them changes). SQL text lives here and nowhere on a hot path; string
 * literals are single-quoted (better-sqlite3's SQLite has DQS=0). It holds no state of its own.
 */
import type Database from 'better-sqlite3';
import type { DbValue } from './disk.js';
import type { Policy } from './eviction.js';

/** A prepared statement (better-sqlite3's). */
export type Statement = Database.Statement;

/** Rows read per page by iteration and deleted per batch by the bulk removers. */
export const BATCH = 100;

export const LIVE = '(expire_time IS NULL OR expire_time > ?)';
export const COLUMNS =
  'key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value';
/**
 * Appended to writes: the earliest expiry, read in the same statement, so that cull-on-write of
 * expired entries costs no extra round trip. (The volume, for the size limit, is checked
 * separately and less often: see `#overSizeLimit`.)
 */
export function cullInfo(cullLimit: number): string {
  return cullLimit === 0 ? 'NULL' : '(SELECT min(expire_time) FROM Cache)';
}

// ---- Rows ------------------------------------------------------------------------------------
// Statements run in raw mode (arrays, not objects: cheaper on the hot path); each row's shape is
// a labelled tuple, read by destructuring: `const [mode, filename, value] = row`.

/** A stored value: `get`, `read`. */
export type ValueRow = [mode: number, filename: string | null, value: DbValue];
/** A value with its metadata: `getEntry`, and a get that records access (LRU/LFU). */
export type EntryRow = [
  mode: number,
  filename: string | null,
  value: DbValue,
  expireTime: number | null,
  tag: DbValue,
];
/** `pop` (exact integers). */
export type PoppedRow = [
  mode: bigint,
  filename: string | null,
  value: DbValue,
  expireTime: number | null,
  tag: DbValue,
];
/** The row a general write replaces (exact integers; `valueType` is SQLite's `typeof(value)`). */
export type StoredRow = [
  rowid: bigint,
  filename: string | null,
  expireTime: number | null,
  mode: bigint,
  value: DbValue,
  valueType: string,
];
/** What an inline write returns: the earliest expiry, for cull-on-write (see `cullInfo`). */
export type CullInfoRow = [minExpireTime: number | null];
/** What a push returns: the new key, and the earliest expiry. */
export type PushRow = [key: DbValue, minExpireTime: number | null];
/** An end of a queue: `pull`, `peek` (exact integers). */
export type QueueRow = [
  key: DbValue,
  expireTime: number | null,
  tag: DbValue,
  mode: bigint,
  filename: string | null,
  value: DbValue,
  rowid: bigint,
];
/** The first or last inserted entry: `peekItem` (exact integers). */
export type ItemRow = [
  rowid: bigint,
  key: DbValue,
  raw: bigint,
  expireTime: number | null,
  tag: DbValue,
  mode: bigint,
  filename: string | null,
  value: DbValue,
];
/** A page of keys in insertion order (exact integers). */
export type KeyRow = [rowid: bigint, key: DbValue, raw: bigint];
/** A page of entries in insertion order (exact integers). */
export type EntriesRow = [
  rowid: bigint,
  key: DbValue,
  raw: bigint,
  expireTime: number | null,
  mode: bigint,
  filename: string | null,
  value: DbValue,
];
/** A page of keys in sorted order (exact integers). */
export type SortedKeyRow = [key: DbValue, raw: bigint];
/** `volume`: the database's page count and the bytes in value files. */
export type VolumeRow = [pageCount: number, fileBytes: number];
/** `stats`. */
export type StatsRow = [hits: number, misses: number];

/** A statement whose rows have the shape `R`. */
type Rows<R> = Database.Statement<unknown[], R>;

/** The Cache's prepared statements (see `prepareStatements` for their SQL). */
export interface CacheStatements {
  readonly get: Rows<ValueRow>;
  readonly getEntry: Rows<EntryRow>;
  readonly getAccess: Rows<EntryRow> | null;
  readonly exactValue: Rows<DbValue>;
  readonly exactTag: Rows<DbValue>;
  readonly hit: Statement;
  readonly miss: Statement;
  readonly has: Rows<[1]>;
  readonly setInline: Rows<CullInfoRow>;
  readonly setInlineNoExpiry: Rows<CullInfoRow>;
  readonly addInline: Rows<CullInfoRow>;
  readonly selectRow: Rows<StoredRow>;
  readonly updateRow: Statement;
  readonly insertRow: Statement;
  readonly incrStored: Statement;
  readonly incrUpdate: Statement;
  /** Rows: the value file names of the deleted entries. */
  readonly cullExpired: Rows<string | null>;
  readonly cullPolicy: Rows<string | null> | null;
  readonly volume: Rows<VolumeRow>;
  readonly count: Rows<number | bigint>;
  readonly touch: Statement;
  readonly delete: Rows<string | null>;
  readonly pop: Rows<PoppedRow>;
  readonly deleteRowid: Rows<string | null>;
  readonly maxRowid: Rows<bigint | number | null>;
  readonly keysForward: Rows<KeyRow>;
  readonly keysBackward: Rows<KeyRow>;
  readonly entriesForward: Rows<EntriesRow>;
  readonly sortedFirst: Rows<SortedKeyRow>;
  readonly sortedNext: Rows<SortedKeyRow>;
  readonly sortedLast: Rows<SortedKeyRow>;
  readonly sortedPrevious: Rows<SortedKeyRow>;
  readonly peekItemLast: Rows<ItemRow>;
  readonly peekItemFirst: Rows<ItemRow>;
  readonly expireBatch: Rows<string | null>;
  readonly evictBatch: Rows<string | null>;
  readonly clearBatch: Rows<string | null>;
  readonly stats: Rows<StatsRow>;
  /** Rows: each tag of the live entries with how many have it. */
  readonly tagCounts: Rows<[tag: DbValue, count: bigint]>;
  readonly resetStats: Statement;
  readonly readSetting: Rows<[value: string | number | bigint | null]>;
  readonly writeSetting: Statement;
  readonly queue: Map<string, Statement>;
  readonly queueByIndex: (Statement | undefined)[];
}

/** Prepares every statement of a Cache on `db`, for its eviction policy and cull limit. */
export function prepareStatements(
  db: Database.Database,
  policy: Policy,
  cullLimit: number,
): CacheStatements {
  // biome-ignore lint/suspicious/noExplicitAny: each statement's row type is declared in CacheStatements.
  type Any = Rows<any>;
  const prepare = (sql: string): Any => db.prepare(sql);
  const raw = (sql: string): Any => db.prepare(sql).raw(true);
  const exact = (sql: string): Any => db.prepare(sql).raw(true).safeIntegers(true);
  const pluck = (sql: string): Any => db.prepare(sql).pluck(true);
  const exactPluck = (sql: string): Any => db.prepare(sql).safeIntegers(true).pluck(true);
  const access = policy.access;
  const order = policy.order;
  return {
    get: raw(`SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = ? AND ${LIVE}`),
    getEntry: raw(
      `SELECT mode, filename, value, expire_time, tag FROM Cache WHERE key = ? AND raw = ? AND ${LIVE}`,
    ),
    getAccess: access
      ? raw(
          `UPDATE Cache SET ${access} WHERE key = ? AND raw = ? AND ${LIVE} RETURNING mode, filename, value, expire_time, tag`,
        )
      : null,
    exactValue: exactPluck('SELECT value FROM Cache WHERE key = ? AND raw = ?'),
    exactTag: exactPluck('SELECT tag FROM Cache WHERE key = ? AND raw = ?'),
    hit: prepare("UPDATE Settings SET value = value + 1 WHERE key = 'hits'"),
    miss: prepare("UPDATE Settings SET value = value + 1 WHERE key = 'misses'"),
    has: raw(`SELECT 1 FROM Cache WHERE key = ? AND raw = ? AND ${LIVE}`),
    setInline: raw(
      `INSERT INTO Cache(${COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?, NULL, ?) ON CONFLICT(key, raw) DO UPDATE SET` +
        ' store_time = excluded.store_time, expire_time = excluded.expire_time, access_time = excluded.access_time,' +
        ' access_count = 0, tag = excluded.tag, size = 0, mode = excluded.mode, filename = NULL, value = excluded.value' +
        ` WHERE Cache.filename IS NULL RETURNING ${cullInfo(cullLimit)}`,
    ),
    // The same for the common case of no expiry before and after: leaving expire_time out of the
    // SET spares SQLite rewriting the row's entry in the Cache_expire_time index (a page write
    // per set on a large cache). An old row with an expiry fails the WHERE and takes setInline.
    setInlineNoExpiry: raw(
      `INSERT INTO Cache(${COLUMNS}) VALUES (?, ?, ?, NULL, ?, 0, ?, 0, ?, NULL, ?) ON CONFLICT(key, raw) DO UPDATE SET` +
        ' store_time = excluded.store_time, access_time = excluded.access_time, access_count = 0, tag = excluded.tag,' +
        ' size = 0, mode = excluded.mode, filename = NULL, value = excluded.value' +
        ` WHERE Cache.filename IS NULL AND Cache.expire_time IS NULL RETURNING ${cullInfo(cullLimit)}`,
    ),
    addInline: raw(
      `INSERT INTO Cache(${COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?, NULL, ?) ON CONFLICT(key, raw) DO UPDATE SET` +
        ' store_time = excluded.store_time, expire_time = excluded.expire_time, access_time = excluded.access_time,' +
        ' access_count = 0, tag = excluded.tag, size = 0, mode = excluded.mode, filename = NULL, value = excluded.value' +
        ` WHERE Cache.filename IS NULL AND Cache.expire_time IS NOT NULL AND Cache.expire_time <= ? RETURNING ${cullInfo(cullLimit)}`,
    ),
    selectRow: exact(
      'SELECT rowid, filename, expire_time, mode, value, typeof(value) FROM Cache WHERE key = ? AND raw = ?',
    ),
    updateRow: prepare(
      'UPDATE Cache SET store_time = ?, expire_time = ?, access_time = ?, access_count = 0, tag = ?, size = ?,' +
        ' mode = ?, filename = ?, value = ? WHERE rowid = ?',
    ),
    insertRow: prepare(`INSERT INTO Cache(${COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`),
    incrStored: prepare(
      `UPDATE Cache SET value = ?, mode = ?, store_time = ?${access ? `, ${access}` : ', access_time = access_time + 0 * ?'} WHERE rowid = ?`,
    ),
    incrUpdate: prepare(
      `UPDATE Cache SET value = ?, store_time = ?${access ? `, ${access}` : ', access_time = access_time + 0 * ?'} WHERE rowid = ?`,
    ),
    cullExpired: pluck(
      'DELETE FROM Cache WHERE rowid IN (SELECT rowid FROM Cache WHERE expire_time IS NOT NULL AND expire_time < ?' +
        ' ORDER BY expire_time LIMIT ?) RETURNING filename',
    ),
    cullPolicy: order
      ? pluck(
          `DELETE FROM Cache WHERE rowid IN (SELECT rowid FROM Cache ORDER BY ${order} LIMIT ?) RETURNING filename`,
        )
      : null,
    volume: raw(
      "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT value FROM Settings WHERE key = 'size')",
    ),
    count: pluck("SELECT value FROM Settings WHERE key = 'count'"),
    touch: prepare(`UPDATE Cache SET expire_time = ? WHERE key = ? AND raw = ? AND ${LIVE}`),
    delete: pluck(`DELETE FROM Cache WHERE key = ? AND raw = ? AND ${LIVE} RETURNING filename`),
    pop: exact(
      `DELETE FROM Cache WHERE key = ? AND raw = ? AND ${LIVE} RETURNING mode, filename, value, expire_time, tag`,
    ),
    deleteRowid: pluck('DELETE FROM Cache WHERE rowid = ? RETURNING filename'),
    maxRowid: pluck('SELECT MAX(rowid) FROM Cache'),
    keysForward: exact(
      'SELECT rowid, key, raw FROM Cache WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT 100',
    ),
    keysBackward: exact(
      'SELECT rowid, key, raw FROM Cache WHERE rowid < ? ORDER BY rowid DESC LIMIT 100',
    ),
    entriesForward: exact(
      'SELECT rowid, key, raw, expire_time, mode, filename, value FROM Cache WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT 100',
    ),
    sortedFirst: exact('SELECT key, raw FROM Cache ORDER BY key, raw LIMIT 100'),
    sortedNext: exact(
      'SELECT key, raw FROM Cache WHERE (key, raw) > (?, ?) ORDER BY key, raw LIMIT 100',
    ),
    sortedLast: exact('SELECT key, raw FROM Cache ORDER BY key DESC, raw DESC LIMIT 100'),
    sortedPrevious: exact(
      'SELECT key, raw FROM Cache WHERE (key, raw) < (?, ?) ORDER BY key DESC, raw DESC LIMIT 100',
    ),
    peekItemLast: exact(
      'SELECT rowid, key, raw, expire_time, tag, mode, filename, value FROM Cache ORDER BY rowid DESC LIMIT 1',
    ),
    peekItemFirst: exact(
      'SELECT rowid, key, raw, expire_time, tag, mode, filename, value FROM Cache ORDER BY rowid LIMIT 1',
    ),
    expireBatch: pluck(
      'DELETE FROM Cache WHERE rowid IN (SELECT rowid FROM Cache WHERE 0 < expire_time AND expire_time < ?' +
        ` ORDER BY expire_time LIMIT ${BATCH}) RETURNING filename`,
    ),
    evictBatch: pluck(
      `DELETE FROM Cache WHERE rowid IN (SELECT rowid FROM Cache WHERE tag = ? ORDER BY rowid LIMIT ${BATCH}) RETURNING filename`,
    ),
    clearBatch: pluck(
      `DELETE FROM Cache WHERE rowid IN (SELECT rowid FROM Cache ORDER BY rowid LIMIT ${BATCH}) RETURNING filename`,
    ),
    tagCounts: exact(`SELECT tag, COUNT(*) FROM Cache WHERE ${LIVE} GROUP BY tag`),
    stats: raw(
      "SELECT (SELECT value FROM Settings WHERE key = 'hits'), (SELECT value FROM Settings WHERE key = 'misses')",
    ),
    resetStats: prepare("UPDATE Settings SET value = 0 WHERE key IN ('hits', 'misses')"),
    readSetting: raw('SELECT value FROM Settings WHERE key = ?'),
    writeSetting: prepare('INSERT OR REPLACE INTO Settings VALUES (?, ?)'),
    queue: new Map<string, Statement>(),
    /** push/pull/peek statements by `queueIndex` (prepared on first use). */
    queueByIndex: [] as (Statement | undefined)[],
  };
}

/** Which queue statement: insert at an end, delete at an end, or read an end. */
export type QueueStatementKind = 'push' | 'pull' | 'peek';

/** A push/pull/peek statement, prepared on first use (prefix or not, front or back). */
export function queueStatement(
  db: Database.Database,
  statements: CacheStatements,
  kind: QueueStatementKind,
  prefixed: boolean,
  side: 'back' | 'front',
  cullLimit: number,
): Statement {
  // An array slot, not a string key: this runs on every push and pull.
  const index =
    (kind === 'push' ? 0 : kind === 'pull' ? 4 : 8) +
    (prefixed ? 2 : 0) +
    (side === 'back' ? 1 : 0);
  let statement = statements.queueByIndex[index];
  if (statement) return statement;
  const direction = side === 'back' ? 'DESC' : 'ASC';
  const end = `(SELECT key FROM Cache WHERE ? < key AND key < ? AND raw = 1 ORDER BY key ${direction} LIMIT 1)`;
  const step = side === 'back' ? '+ 1' : '- 1';
  let sql: string;
  if (kind === 'push') {
    const next = prefixed
      ? `? || '-' || printf('%015d', coalesce(CAST(substr(${end}, ?) AS INTEGER) ${step}, 500000000000000))`
      : `coalesce(${end} ${step}, 500000000000000)`;
    sql = `INSERT INTO Cache(${COLUMNS}) VALUES (${next}, 1, ?, ?, ?, 0, ?, ?, ?, ?, ?) RETURNING key, ${cullInfo(cullLimit)}`;
  } else if (kind === 'pull') {
    sql = `DELETE FROM Cache WHERE rowid = (SELECT rowid FROM Cache WHERE ? < key AND key < ? AND raw = 1 ORDER BY key ${direction} LIMIT 1) RETURNING key, expire_time, tag, mode, filename, value, rowid`;
  } else {
    sql = `SELECT key, expire_time, tag, mode, filename, value, rowid FROM Cache WHERE ? < key AND key < ? AND raw = 1 ORDER BY key ${direction} LIMIT 1`;
  }
  statement = db.prepare(sql).raw(true).safeIntegers(true);
  statements.queueByIndex[index] = statement;
  return statement;
}

/** An INSERT of BATCH rows at once (pushMany), prepared on first use. */
export function insertBatchStatement(
  db: Database.Database,
  statements: CacheStatements,
): Statement {
  let statement = statements.queue.get('insertBatch');
  if (statement) return statement;
  const rows = Array.from({ length: BATCH }, () => '(?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)').join(', ');
  statement = db.prepare(`INSERT INTO Cache(${COLUMNS}) VALUES ${rows}`);
  statements.queue.set('insertBatch', statement);
  return statement;
}
