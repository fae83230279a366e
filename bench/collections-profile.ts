/**
 * Where Deque.append and Deque.popLeft spend their time: (1) the SQL statements each collection
 * call runs (counted by wrapping better-sqlite3's Statement methods), (2) the engine's statement
 * taken apart step by step against the floor's statement, each variant on its own Deque-created
 * directory, timed per call with its autocommit and again inside one transaction (CPU only).
 * Not part of `npm run bench` (a diagnosis, not a comparison):
 *   npx tsx bench/collections-profile.ts [--quick]
 * The statements are copies of those in src/cache/cache.ts; if the engine changes, update them.
 */
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Deque, Index } from '../src/index.js';
import { openDatabase } from './collections-systems.js';
import { itemValue } from './collections-workload.js';
import {
  formatNumber,
  formatTable,
  freshDirectory,
  loadAverage,
  machine,
  machineLine,
  sample,
  summarize,
} from './lib.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const ROUNDS = values.quick ? 3 : 12;
const OPS = values.quick ? 300 : 500;
const VALUE = itemValue(0);
const COLUMNS =
  'key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value';
const CULL_INFO =
  "(SELECT min(expire_time) FROM Cache), (SELECT value FROM Settings WHERE key = 'size'), (SELECT page_count FROM pragma_page_count())";
const BACK =
  '(SELECT key FROM Cache WHERE ? < key AND key < ? AND raw = 1 ORDER BY key DESC LIMIT 1)';
const PUSH = `INSERT INTO Cache(${COLUMNS}) VALUES (coalesce(${BACK} + 1, 500000000000000), 1, ?, ?, ?, 0, ?, ?, ?, ?, ?)`;
const PULL_WHERE =
  'rowid = (SELECT rowid FROM Cache WHERE ? < key AND key < ? AND raw = 1 ORDER BY key ASC LIMIT 1)';

// ---- (1) statements per call ------------------------------------------------------------------

type StatementMethods = Record<'get' | 'run' | 'all' | 'iterate', (...args: unknown[]) => unknown>;
const statementPrototype = Object.getPrototypeOf(
  new Database(':memory:').prepare('SELECT 1'),
) as StatementMethods;
const counted = new Map<string, number>();
let counting = false;
for (const method of ['get', 'run', 'all', 'iterate'] as const) {
  const original = statementPrototype[method];
  statementPrototype[method] = function (this: { source: string }, ...args: unknown[]) {
    if (counting) {
      const rows = this.source.split('), (?').length; // a multi-row INSERT (pushMany)
      const sql = this.source.length > 100 ? `${this.source.slice(0, 97)}...` : this.source;
      const label = `.${method}() ${sql}${rows > 1 ? ` [${rows} rows]` : ''}`;
      counted.set(label, (counted.get(label) ?? 0) + 1);
    }
    return original.apply(this, args);
  };
}

/** The statements `fn` runs, with counts. */
function statementsOf(fn: () => void): string[] {
  counted.clear();
  counting = true;
  try {
    fn();
  } finally {
    counting = false;
  }
  return [...counted].map(([sql, count]) => `${count} × ${sql}`);
}

const dequeDir = freshDirectory('profile-deque');
const indexDir = freshDirectory('profile-index');
const deque = new Deque<string>(dequeDir.directory);
const index = new Index<string, string>(indexDir.directory);
deque.extend(Array.from({ length: 100 }, (_, i) => itemValue(i)));
index.set('k', VALUE);
const perCall = [
  ['Deque.append(v)', () => deque.append(VALUE)],
  ['Deque.popLeft()', () => void deque.popLeft()],
  ['Deque.extend(250 items)', () => deque.extend(Array.from({ length: 250 }, () => VALUE))],
  ['Index.set(k, v) (existing k)', () => void index.set('k', VALUE)],
  ['Index.get(k)', () => void index.get('k')],
] as const;
const statementRows = perCall.flatMap(([call, fn]) =>
  statementsOf(fn).map((line, i) => [i === 0 ? call : '', line]),
);
deque.close();
index.close();
dequeDir.remove();
indexDir.remove();

// ---- (2) the statements taken apart ----------------------------------------------------------------

interface Variant {
  readonly label: string;
  readonly call: () => unknown;
  /** Runs `fn` inside one write transaction of this variant's database. */
  inTransaction<T>(fn: () => T): T;
  close(): void;
}

/** A directory created by `new Deque(dir)` holding `items` items. */
function dequeDirectory(items: number) {
  const dir = freshDirectory('profile-variant');
  const owner = new Deque<string>(dir.directory);
  owner.extend(Array.from({ length: items }, (_, i) => itemValue(i)));
  return { dir, owner };
}

/** A raw better-sqlite3 statement on a Deque-created directory, with Cache's connection pragmas. */
function sqlVariant(
  label: string,
  items: number,
  make: (db: Database.Database) => () => unknown,
): Variant {
  const { dir, owner } = dequeDirectory(items);
  owner.close();
  const db = openDatabase(dir.directory);
  return {
    label,
    call: make(db),
    inTransaction: (fn) => {
      db.exec('BEGIN IMMEDIATE');
      try {
        return fn();
      } finally {
        db.exec('COMMIT');
      }
    },
    close: () => {
      db.close();
      dir.remove();
    },
  };
}

function dequeVariant(
  label: string,
  items: number,
  call: (deque: Deque<string>) => unknown,
): Variant {
  const { dir, owner } = dequeDirectory(items);
  return {
    label,
    call: () => call(owner),
    inTransaction: (fn) => owner.transact(fn),
    close: () => {
      owner.close();
      dir.remove();
    },
  };
}

const pushParams = (now: number) => [
  0n,
  999999999999999n,
  now,
  null,
  now,
  null,
  0n,
  1n,
  null,
  VALUE,
];
const appendVariants = (): Variant[] => [
  sqlVariant('floor: INSERT, key from JS (.run)', 0, (db) => {
    const insert = db.prepare(
      `INSERT INTO Cache(${COLUMNS}) VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 1, NULL, ?)`,
    );
    let key = 500000000000000n;
    return () => {
      const now = Date.now() / 1000;
      return insert.run(key++, now, now, VALUE);
    };
  }),
  sqlVariant('push SQL: key from SQL, RETURNING key', 0, (db) => {
    const push = db.prepare(`${PUSH} RETURNING key`).raw(true).safeIntegers(true);
    return () => push.all(...pushParams(Date.now() / 1000));
  }),
  sqlVariant("push SQL + min(expire_time) only (all policy 'none' needs)", 0, (db) => {
    const push = db
      .prepare(`${PUSH} RETURNING key, (SELECT min(expire_time) FROM Cache)`)
      .raw(true)
      .safeIntegers(true);
    return () => push.all(...pushParams(Date.now() / 1000));
  }),
  sqlVariant('push SQL as the engine runs it (+ CULL_INFO)', 0, (db) => {
    const push = db.prepare(`${PUSH} RETURNING key, ${CULL_INFO}`).raw(true).safeIntegers(true);
    return () => push.all(...pushParams(Date.now() / 1000));
  }),
  dequeVariant('Deque.append', 0, (deque) => deque.append(VALUE)),
];

const popVariants = (items: number): Variant[] => [
  sqlVariant('floor: DELETE … RETURNING value (.all, pluck)', items, (db) => {
    const pop = db
      .prepare(
        'DELETE FROM Cache WHERE rowid = (SELECT rowid FROM Cache WHERE key > 0 AND key < 999999999999999 AND raw = 1 ORDER BY key LIMIT 1) RETURNING value',
      )
      .pluck(true);
    return () => pop.all()[0];
  }),
  sqlVariant('pull SQL as the engine runs it (7 columns, safeIntegers)', items, (db) => {
    const pull = db
      .prepare(
        `DELETE FROM Cache WHERE ${PULL_WHERE} RETURNING key, expire_time, tag, mode, filename, value, rowid`,
      )
      .raw(true)
      .safeIntegers(true);
    return () => pull.all(0n, 999999999999999n)[0];
  }),
  sqlVariant('pull SQL returning only what popLeft uses', items, (db) => {
    const pull = db
      .prepare(`DELETE FROM Cache WHERE ${PULL_WHERE} RETURNING expire_time, mode, filename, value`)
      .raw(true);
    return () => pull.all(0n, 999999999999999n)[0];
  }),
  dequeVariant('Deque.popLeft', items, (deque) => deque.popLeft()),
];

interface Profiled {
  readonly label: string;
  /** Autocommit: median over rounds of the per-call p50 and mean, µs. */
  readonly p50: number;
  readonly mean: number;
  /** Inside one transaction (no commit per call: the CPU cost): median over rounds of the p50, µs. */
  readonly txnP50: number;
}

/** `ROUNDS` interleaved rounds of `OPS` calls per variant, autocommit then in one transaction. */
function profile(variants: readonly Variant[]): Profiled[] {
  const auto = variants.map(() => [] as { p50Us: number; meanUs: number }[]);
  const txn = variants.map(() => [] as number[]);
  const options = { ops: OPS, warmup: 50, batch: 1 } as const;
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const at = (k + round) % variants.length;
      const variant = variants[at]!;
      auto[at]!.push(summarize(sample(variant.call, options).ns));
      txn[at]!.push(summarize(variant.inTransaction(() => sample(variant.call, options)).ns).p50Us);
    }
  }
  for (const variant of variants) variant.close();
  const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return variants.map((variant, i) => ({
    label: variant.label,
    p50: median(auto[i]!.map((s) => s.p50Us)),
    mean: median(auto[i]!.map((s) => s.meanUs)),
    txnP50: median(txn[i]!),
  }));
}

function table(rows: readonly Profiled[]): string {
  const floor = rows[0]!;
  return formatTable(
    [
      { header: 'variant', align: 'left' },
      { header: 'p50 µs' },
      { header: 'mean µs' },
      { header: 'p50 vs floor' },
      { header: 'in one transaction: p50 µs' },
      { header: 'vs floor' },
    ],
    rows.map((row) => [
      row.label,
      formatNumber(row.p50),
      formatNumber(row.mean),
      `${(row.p50 / floor.p50).toFixed(2)}×`,
      formatNumber(row.txnP50),
      `${(row.txnP50 / floor.txnP50).toFixed(2)}×`,
    ]),
  );
}

const loadBefore = loadAverage();
const appendRows = profile(appendVariants());
// Every pop variant takes ROUNDS × (OPS + warm-up) × 2 items.
const popRows = profile(popVariants(ROUNDS * (OPS + 50) * 2 + 10));
console.log('### Statements per call\n');
console.log(
  formatTable(
    [
      { header: 'call', align: 'left' },
      { header: 'statements (count × SQL)', align: 'left' },
    ],
    statementRows,
  ),
);
console.log(
  `\n### Deque.append: the engine's statement taken apart (${ROUNDS} rounds × ${OPS} calls, medians)\n`,
);
console.log(table(appendRows));
console.log(
  `\n### Deque.popLeft: the engine's statement taken apart (${ROUNDS} rounds × ${OPS} calls, medians)\n`,
);
console.log(table(popRows));
console.log(
  '\nAutocommit: one commit per call (what the benchmark measures). In one transaction: the same calls without their commits, i.e. the CPU cost of the statement and the JavaScript around it.',
);
console.log(
  `Load average before: ${loadBefore}; after: ${loadAverage()}. Machine: ${machineLine(machine())}`,
);
