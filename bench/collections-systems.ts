/**
 * The systems the collections benchmark compares in one process: this library's Deque and Index,
 * the raw-SQLite floor (one better-sqlite3 statement per operation on a directory the library
 * created, so schema, triggers and pragmas are identical) and Python's diskcache.Deque/Index (a
 * worker process, python_collections.py). Each opens its own fresh directories. No statistics and
 * no tables here: collections.bench.ts drives these.
 */
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Deque, Index } from '../src/index.js';
import {
  type IndexKeys,
  indexValue,
  itemValue,
  type SingleOp,
  STRIDE,
} from './collections-workload.js';
import { freshDirectory, type Samples, sample } from './lib.js';
import { PythonWorker } from './python-system.js';

/** One round of one operation: call indices from `start`, warm-up calls first. */
export interface Round {
  readonly start: number;
  readonly warmup: number;
  readonly ops: number;
}

/** A system in the one-process tables. */
export interface Contender {
  readonly id: string;
  readonly label: string;
  readonly note: string;
  /** Times each call of `op` alone (nanoseconds per call). */
  run(op: SingleOp, round: Round): Promise<Samples>;
  /** Empties the deque, then times ONE extend of `count` items (itemValue(0..count-1)); nanoseconds. */
  extend(count: number): Promise<number>;
  close(): Promise<void>;
}

const APPEND_VALUE = itemValue(0);

/** Throws when a read found nothing: the workload would then time the wrong thing. */
function found<T>(what: string, value: T | undefined): T {
  if (value === undefined)
    throw new Error(`${what} returned nothing: the benchmark's bookkeeping is wrong`);
  return value;
}

/** Writes `count` keys (value variant 0) into a fresh Index, 1000 per transaction. Not timed. */
function populate(index: Index<string, string>, keys: IndexKeys): void {
  const value = indexValue(0);
  for (let start = 0; start < keys.count; start += 1000) {
    index.transact(() => {
      for (const key of keys.all.slice(start, start + 1000)) index.set(key, value);
    });
  }
}

/** Times `fn(i)` for each call of the round, one call per sample. */
function timeRound(fn: (index: number) => unknown, round: Round): Samples {
  return sample(fn, { ...round, batch: 1 });
}

/** (a) This library: `new Deque(dir)` and `new Index(dir)` with default settings. */
export function openLibrary(keys: IndexKeys): Contender {
  const dequeDir = freshDirectory('deque');
  const indexDir = freshDirectory('index');
  const deque = new Deque<string>(dequeDir.directory);
  const index = new Index<string, string>(indexDir.directory);
  populate(index, keys);
  const setValue = indexValue(1);
  const calls: Record<SingleOp, (i: number) => unknown> = {
    append: () => deque.append(APPEND_VALUE),
    popLeft: () => found('Deque.popLeft', deque.popLeft()),
    indexSet: (i) => index.set(keys.key(i + keys.setOffset), setValue),
    indexGet: (i) => found('Index.get', index.get(keys.key(i))),
  };
  return {
    id: 'library',
    label: 'this library',
    note: 'Deque / Index from src/index.ts, default settings',
    run: async (op, round) => timeRound(calls[op], round),
    extend: async (count) => {
      deque.clear();
      const items = Array.from({ length: count }, (_, i) => itemValue(i));
      const begin = process.hrtime.bigint();
      deque.extend(items);
      const elapsed = Number(process.hrtime.bigint() - begin);
      if (deque.length !== count)
        throw new Error(`Deque.extend left ${deque.length} items, expected ${count}`);
      deque.clear();
      return elapsed;
    },
    close: async () => {
      deque.close();
      index.close();
      dequeDir.remove();
      indexDir.remove();
    },
  };
}

/** Opens `cache.db` of a directory the library created, with the connection pragmas Cache sets (as openRaw in cache-systems.ts). */
export function openDatabase(directory: string): Database.Database {
  const db = new Database(path.join(directory, 'cache.db'), { timeout: 60_000 });
  db.pragma('journal_mode = wal');
  db.pragma('synchronous = 1');
  db.pragma(`mmap_size = ${2 ** 26}`);
  db.pragma(`cache_size = ${2 ** 13}`);
  return db;
}

const QUEUE_START = 500000000000000n;

/**
 * (b) The floor: the fastest single statement that does each operation's work, autocommit, on
 * directories created by `new Deque(dir)` / `new Index(dir)` (the index populated by the library
 * itself, so both hold the same rows). Append computes the next key in JavaScript (so it is only
 * correct for one process: the library's push reads it in SQL); Index set is a plain UPDATE of
 * the existing row (keeps its position, as Index set must), the cheapest write of an existing key.
 */
export function openFloor(keys: IndexKeys): Contender {
  const dequeDir = freshDirectory('deque-floor');
  const indexDir = freshDirectory('index-floor');
  new Deque(dequeDir.directory).close();
  const library = new Index<string, string>(indexDir.directory);
  populate(library, keys);
  library.close();
  const dequeDb = openDatabase(dequeDir.directory);
  const indexDb = openDatabase(indexDir.directory);
  const insert = dequeDb.prepare(
    'INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value)' +
      ' VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 1, NULL, ?)',
  );
  const popLeft = dequeDb
    .prepare(
      'DELETE FROM Cache WHERE rowid = (SELECT rowid FROM Cache WHERE key > 0 AND key < 999999999999999 AND raw = 1' +
        ' ORDER BY key LIMIT 1) RETURNING value',
    )
    .pluck(true);
  const clear = dequeDb.prepare('DELETE FROM Cache');
  const begin = dequeDb.prepare('BEGIN IMMEDIATE');
  const commit = dequeDb.prepare('COMMIT');
  const update = indexDb.prepare(
    'UPDATE Cache SET store_time = ?, expire_time = NULL, access_time = ?, access_count = 0, tag = NULL, size = 0,' +
      ' mode = 1, filename = NULL, value = ? WHERE key = ? AND raw = 1',
  );
  const get = indexDb.prepare('SELECT value FROM Cache WHERE key = ? AND raw = 1').pluck(true);
  let nextKey = QUEUE_START;
  const setValue = indexValue(1);
  const append = (value: string) => {
    const now = Date.now() / 1000;
    insert.run(nextKey++, now, now, value);
  };
  const calls: Record<SingleOp, (i: number) => unknown> = {
    append: () => append(APPEND_VALUE),
    // .all(), not .get(): a DELETE … RETURNING read with .get() stops before SQLITE_DONE, so SQLite's
    // WAL autocheckpoint never runs and the WAL grows without bound (the engine reads through .all()
    // for that reason); such a "floor" would be faster only by never checkpointing.
    popLeft: () => found('floor popLeft', popLeft.all()[0]),
    indexSet: (i) => {
      const now = Date.now() / 1000;
      update.run(now, now, setValue, keys.key(i + keys.setOffset));
    },
    indexGet: (i) => found('floor get', get.get(keys.key(i))),
  };
  return {
    id: 'floor',
    label: 'raw SQLite (floor)',
    note:
      'better-sqlite3 prepared statements (pluck, positional binds, integer keys as bigint) on library-created' +
      ' cache.db files, autocommit per operation; extend: one BEGIN IMMEDIATE … COMMIT of single-row INSERTs',
    run: async (op, round) => timeRound(calls[op], round),
    extend: async (count) => {
      clear.run();
      nextKey = QUEUE_START;
      const items = Array.from({ length: count }, (_, i) => itemValue(i));
      const started = process.hrtime.bigint();
      begin.run();
      for (const item of items) append(item);
      commit.run();
      const elapsed = Number(process.hrtime.bigint() - started);
      clear.run();
      nextKey = QUEUE_START;
      return elapsed;
    },
    close: async () => {
      dequeDb.close();
      indexDb.close();
      dequeDir.remove();
      indexDir.remove();
    },
  };
}

/** (c) Python's diskcache.Deque and diskcache.Index in a worker process. */
export async function openPython(
  python: string,
  version: string,
  keys: IndexKeys,
): Promise<Contender> {
  const dequeDir = freshDirectory('deque-python');
  const indexDir = freshDirectory('index-python');
  const worker = new PythonWorker(python, 'python_collections.py');
  const remove = () => {
    dequeDir.remove();
    indexDir.remove();
  };
  try {
    await worker.send({
      cmd: 'open',
      deque: dequeDir.directory,
      index: indexDir.directory,
      keys: keys.count,
      stride: STRIDE,
    });
  } catch (error) {
    await worker.close();
    remove();
    throw error;
  }
  return {
    id: 'python',
    label: 'Python diskcache',
    note: `${version} (${python}): Deque(directory=…) append/popleft/extend, Index(…)[key] = / [key]; time.perf_counter_ns per call`,
    run: async (op, round) => {
      const answer = await worker.send({ cmd: 'run', op, ...round });
      return { ns: Float64Array.from(answer.samples as number[]), batch: 1 };
    },
    extend: async (count) => {
      const answer = await worker.send({ cmd: 'extend', count });
      if (answer.length !== count)
        throw new Error(
          `Python Deque.extend left ${String(answer.length)} items, expected ${count}`,
        );
      return answer.ns as number;
    },
    close: async () => {
      await worker.send({ cmd: 'close' });
      await worker.close();
      remove();
    },
  };
}
