/**
 * Where Cache.get and Cache.set spend their time: the same work split into steps, each timed on
 * ONE Cache-created database (100k keys, 1 KB Buffer values) so file layout cannot differ
 * between variants. Not part of `npm run bench` (it is a diagnosis, not a comparison):
 *   npx tsx bench/cache-profile.ts [--quick] [--keys N]   (--keys 1000: all in memory, CPU cost only)
 * The statements are copies of those in src/cache/cache.ts; if the engine changes, update them.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Cache } from '../src/index.js';
import { keyName, STRIDE, Workload } from './cache-workload.js';
import {
  concatSamples,
  formatNumber,
  formatTable,
  freshDirectory,
  machine,
  machineLine,
  type Samples,
  sample,
  summarize,
} from './lib.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, keys: { type: 'string' } },
});
const KEYS = values.keys ? Number(values.keys) : values.quick ? 20_000 : 100_000;
const GET_OPS = values.quick ? 20_000 : 100_000;
const SET_OPS = values.quick ? 3_000 : 20_000;
const ROUNDS = 4;

const LIVE = '(expire_time IS NULL OR expire_time > ?)';
const COLUMNS =
  'key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value';
const CULL_INFO =
  "(SELECT min(expire_time) FROM Cache), (SELECT value FROM Settings WHERE key = 'size'), (SELECT page_count FROM pragma_page_count())";
const UPSERT =
  `INSERT INTO Cache(${COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?, NULL, ?) ON CONFLICT(key, raw) DO UPDATE SET` +
  ' store_time = excluded.store_time, expire_time = excluded.expire_time, access_time = excluded.access_time,' +
  ' access_count = 0, tag = excluded.tag, size = 0, mode = excluded.mode, filename = NULL, value = excluded.value' +
  ' WHERE Cache.filename IS NULL';

const { directory, remove } = freshDirectory('profile');
const workload = new Workload({ keys: KEYS, stride: STRIDE, value: 'buffer' });
const cache = new Cache(directory);
workload.populate({
  get: (key) => cache.get(key),
  set: (key, value) => void cache.set(key, value),
  delete: (key) => void cache.delete(key),
  transact: (fn) => cache.transact(fn),
  close: () => cache.close(),
});
const db = new Database(path.join(directory, 'cache.db'));
db.pragma('synchronous = 1');
db.pragma(`mmap_size = ${2 ** 26}`);
db.pragma(`cache_size = ${2 ** 13}`);
const value = Buffer.alloc(1024, 7);
const key = (i: number) => workload.key(i);
const now = () => Date.now() / 1000;

/** A labelled call; `around`, when given, wraps each timed round (e.g. in one transaction). */
type Variant = [label: string, fn: (i: number) => unknown, around?: (body: () => void) => void];

const select = (columns: string, where: string) =>
  db.prepare(`SELECT ${columns} FROM Cache WHERE ${where}`);
const floorGet = select('value', 'key = ? AND raw = 1').pluck(true);
const boundRaw = select('value', 'key = ? AND raw = ?').pluck(true);
const liveValue = select('value', `key = ? AND raw = 1 AND ${LIVE}`).pluck(true);
const arrayValue = select('value', 'key = ? AND raw = 1').raw(true);
const arrayThree = select('mode, filename, value', 'key = ? AND raw = 1').raw(true);
const cacheGetSql = select('mode, filename, value', `key = ? AND raw = ? AND ${LIVE}`).raw(true);
const inlineOrNull = select(
  'iif(mode = 1 AND filename IS NULL, value, NULL)',
  `key = ? AND raw = 1 AND ${LIVE}`,
).pluck(true);
const getVariants: Variant[] = [
  ['floor: SELECT value … raw = 1, pluck', (i) => floorGet.get(key(i))],
  ['… raw = ? bound to 1', (i) => boundRaw.get(key(i), 1)],
  ['… + expiry test (binds now)', (i) => liveValue.get(key(i), now())],
  ['… value as a raw(true) array instead of pluck', (i) => arrayValue.get(key(i))],
  ['… mode, filename, value as an array', (i) => arrayThree.get(key(i))],
  ["Cache's SQL: 3 columns, raw = ?, expiry, array", (i) => cacheGetSql.get(key(i), 1, now())],
  [
    'pluck iif(mode = 1 AND filename IS NULL, value, NULL) + expiry',
    (i) => inlineOrNull.get(key(i), now()),
  ],
  ['Cache.get', (i) => cache.get(key(i))],
  ['Cache.has (no value column)', (i) => cache.has(key(i))],
];

const floorSet = db.prepare(
  `INSERT OR REPLACE INTO Cache(${COLUMNS}) VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 1, NULL, ?)`,
);
const upsertReturning = db.prepare(`${UPSERT} RETURNING ${CULL_INFO}`).raw(true);
const upsertPlain = db.prepare(UPSERT);
const upsertNoPageCount = db
  .prepare(
    `${UPSERT} RETURNING (SELECT min(expire_time) FROM Cache), (SELECT value FROM Settings WHERE key = 'size')`,
  )
  .raw(true);
const updateInPlace = db.prepare(
  'UPDATE Cache SET store_time = ?, access_time = ?, value = ? WHERE key = ? AND raw = 1',
);
const setVariants: Variant[] = [
  ['floor: INSERT OR REPLACE, autocommit', (i) => floorSet.run(key(i), now(), now(), value)],
  [
    "Cache's UPSERT + RETURNING cull info",
    (i) => upsertReturning.get(key(i), 1n, now(), null, now(), null, 1n, value),
  ],
  [
    "Cache's UPSERT, no RETURNING",
    (i) => upsertPlain.run(key(i), 1n, now(), null, now(), null, 1n, value),
  ],
  [
    'UPSERT + RETURNING without the page_count subquery',
    (i) => upsertNoPageCount.get(key(i), 1n, now(), null, now(), null, 1n, value),
  ],
  ['UPDATE in place (3 columns)', (i) => updateInPlace.run(now(), now(), value, key(i))],
  ['Cache.set', (i) => cache.set(key(i), value)],
];

/** CPU time (user + system) per call of `fn` over `calls` calls: immune to being descheduled. */
function cpuMicros(fn: (i: number) => unknown, start: number, calls: number): number {
  const before = process.cpuUsage();
  for (let i = start; i < start + calls; i++) fn(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Interleaved rounds, like the main benchmark; wall-clock samples pooled per variant. Then a
 * CPU-time pass (median of rounds), which other processes on the machine barely disturb.
 */
function profile(title: string, variants: Variant[], ops: number): void {
  const parts = variants.map(() => [] as Samples[]);
  const cpu = variants.map(() => [] as number[]);
  const perRound = Math.ceil(ops / ROUNDS);
  let start = 0;
  for (let round = 0; round < ROUNDS; round++) {
    variants.forEach(([, fn, around = (body) => body()], v) => {
      const batch = parts[v]![0]?.batch ?? 'auto';
      const warmup = round === 0 ? 2000 : 200;
      around(() => parts[v]!.push(sample(fn, { start, ops: perRound, warmup, batch })));
    });
    start += perRound + 2000;
  }
  for (let round = 0; round < 2 * ROUNDS; round++) {
    variants.forEach(([, fn, around = (body) => body()], v) => {
      around(() => cpu[v]!.push(cpuMicros(fn, start, Math.ceil(perRound / 2))));
    });
    start += Math.ceil(perRound / 2);
  }
  const rows = variants.map(([label], v) => {
    const stats = summarize(concatSamples(parts[v]!.map((part) => part.ns)), parts[v]![0]!.batch);
    const cells = [stats.meanUs, stats.p50Us, stats.p99Us, median(cpu[v]!)];
    return [label, ...cells.map(formatNumber)];
  });
  const columns = ['mean µs', 'p50 µs', 'p99 µs', 'CPU µs'].map((header) => ({ header }));
  console.log(`\n### ${title}\n`);
  console.log(formatTable([{ header: 'variant', align: 'left' }, ...columns], rows));
}

const cullInfo = db.prepare(`SELECT ${CULL_INFO}`).raw(true);
const minExpire = db.prepare('SELECT min(expire_time) FROM Cache').pluck(true);
const sizeSetting = db.prepare("SELECT value FROM Settings WHERE key = 'size'").pluck(true);
const pageCountVtab = db.prepare('SELECT page_count FROM pragma_page_count()').pluck(true);
const pageCountPragma = db.prepare('PRAGMA page_count').pluck(true);
const cullVariants: Variant[] = [
  ["all three (Cache's CULL_INFO) as one SELECT", () => cullInfo.get()],
  ['SELECT min(expire_time) FROM Cache', () => minExpire.get()],
  ["SELECT value FROM Settings WHERE key = 'size'", () => sizeSetting.get()],
  ['SELECT page_count FROM pragma_page_count()', () => pageCountVtab.get()],
  ['PRAGMA page_count (prepared once)', () => pageCountPragma.get()],
];

console.log(
  `Machine: ${machineLine(machine())}; ${KEYS} keys of ${keyName(0).length} characters, 1 KB Buffer values`,
);
profile('get (hit): one database, one connection per side', getVariants, GET_OPS);
profile('set (overwrite): one database, autocommit each', setVariants, SET_OPS);
const inTransaction = (body: () => void) => {
  db.prepare('BEGIN IMMEDIATE').run();
  body();
  db.prepare('COMMIT').run();
};
const transactionVariants: Variant[] = setVariants.map(([label, fn]) =>
  label === 'Cache.set'
    ? ['Cache.set inside cache.transact', fn, (body) => cache.transact(body)]
    : [label.replace(', autocommit', ''), fn, inTransaction],
);
profile(
  'the same writes inside one transaction per round (statement cost without the commit)',
  transactionVariants,
  GET_OPS / 2,
);
profile("set's cull-info subqueries, read alone (no write)", cullVariants, GET_OPS);
db.close();
cache.close();
remove();
