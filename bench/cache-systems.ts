/**
 * The key-value systems the engine benchmark compares, behind one small synchronous interface:
 * this library's Cache, raw better-sqlite3 statements on the same schema (the floor), and
 * lmdb-js. Python's diskcache runs out of process (see python-system.ts). Each system opens its
 * own fresh directory. This file holds no timing and no workload: cache.bench.ts drives it.
 */
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Cache, type CacheOptions } from '../src/index.js';
import { importOptional } from './lib.js';

/** A value as the workload writes it: 1 KB of bytes or a 1 KB string. */
export type BenchValue = Buffer | string;

/** What the workload needs from an in-process system; all calls are synchronous. */
export interface SyncStore {
  get(key: string): unknown;
  set(key: string, value: BenchValue): void;
  delete(key: string): void;
  /** Runs `fn` in one write transaction. */
  transact(fn: () => void): void;
  close(): void | Promise<void>;
}

/** A system that could be opened, or the reason it is left out of the table. */
export type Opened = { store: SyncStore; note: string } | { missing: string };

/** (a) This library's Cache with default settings (or `options`). */
export function openCache(directory: string, options: CacheOptions = {}): Opened {
  const cache = new Cache(directory, options);
  return {
    note: `Cache from src/index.ts, ${Object.keys(options).length === 0 ? 'default settings' : JSON.stringify(options)}`,
    store: {
      get: (key) => cache.get(key),
      set: (key, value) => {
        cache.set(key, value);
      },
      delete: (key) => {
        cache.delete(key);
      },
      transact: (fn) => cache.transact(fn),
      close: () => cache.close(),
    },
  };
}

/**
 * (b) The floor: the fastest statements that do the same work on the same database. The
 * directory is created by Cache (schema, indexes, triggers, Settings rows, WAL), then opened with
 * better-sqlite3 and the connection pragmas Cache sets. Statements use `pluck` and positional
 * binds, the cheapest better-sqlite3 offers.
 */
export function openRaw(directory: string): Opened {
  new Cache(directory).close();
  const db = new Database(path.join(directory, 'cache.db'), { timeout: 60_000 });
  db.pragma('journal_mode = wal');
  db.pragma('synchronous = 1');
  db.pragma(`mmap_size = ${2 ** 26}`);
  db.pragma(`cache_size = ${2 ** 13}`);
  const get = db.prepare('SELECT value FROM Cache WHERE key = ? AND raw = 1').pluck(true);
  // An UPSERT that overwrites in place: the fastest single statement with set's meaning (insert
  // or overwrite, keeping the row and its insertion order). INSERT OR REPLACE would be slower
  // (delete + insert, every index rewritten), which would flatter the Cache.
  const set = db.prepare(
    'INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value)' +
      ' VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 1, NULL, ?) ON CONFLICT(key, raw) DO UPDATE SET' +
      ' store_time = excluded.store_time, access_time = excluded.access_time, value = excluded.value',
  );
  const remove = db.prepare('DELETE FROM Cache WHERE key = ? AND raw = 1');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  return {
    note: 'better-sqlite3 prepared statements on a Cache-created cache.db (same schema, triggers, pragmas), autocommit per op',
    store: {
      get: (key) => get.get(key),
      set: (key, value) => {
        const now = Date.now() / 1000;
        set.run(key, now, now, value);
      },
      delete: (key) => {
        remove.run(key);
      },
      transact: (fn) => {
        begin.run();
        try {
          fn();
          commit.run();
        } catch (error) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw error;
        }
      },
      close: () => {
        db.close();
      },
    },
  };
}

/** The part of lmdb-js's API the benchmark uses (typed here: bench deps may be absent). */
interface LmdbDatabase {
  get(key: string): unknown;
  putSync(key: string, value: unknown): boolean;
  removeSync(key: string): boolean;
  transactionSync<T>(fn: () => T): T;
  close(): Promise<void>;
}
interface LmdbModule {
  open(options: { path: string; noSync?: boolean }): LmdbDatabase;
}

/**
 * (d) lmdb-js: `open({ path })` and its synchronous calls. By default every putSync/removeSync
 * commit is flushed to disk (fsync); `noSync` skips that, which is closer to SQLite's WAL with
 * synchronous=NORMAL (durable across a process crash, not a power cut).
 */
export async function openLmdb(
  directory: string,
  options: { noSync: boolean },
): Promise<Opened & { version?: string }> {
  const imported = await importOptional<LmdbModule>('lmdb');
  if ('missing' in imported) return imported;
  const db = imported.module.open(
    options.noSync ? { path: directory, noSync: true } : { path: directory },
  );
  return {
    version: imported.version,
    note: `lmdb ${imported.version}, open({ path${options.noSync ? ', noSync: true' : ''} }), putSync/get/removeSync, transactionSync`,
    store: {
      get: (key) => db.get(key),
      set: (key, value) => {
        db.putSync(key, value);
      },
      delete: (key) => {
        db.removeSync(key);
      },
      transact: (fn) => db.transactionSync(fn),
      close: () => db.close(),
    },
  };
}
