/**
 * cache-queue: the queue a Cache keeps among its entries, as diskcache's push/pull/peek do —
 * integer keys around 5e14 (or `prefix-000000000000123` strings) whose order is the queue's, and
 * peekItem over insertion order. Each single operation is one statement (a push or a pull is one
 * INSERT/DELETE … RETURNING); pushMany is one transaction. It holds no state but its Cache's
 * parts (QueueHost); the Cache delegates to it.
 */
import type Database from 'better-sqlite3';
import type { Culler } from './cull.js';
import { type DbValue, type Disk, intToJs, type StoredValue } from './disk.js';
import {
  BATCH,
  type CacheStatements,
  type ItemRow,
  insertBatchStatement,
  type PushRow,
  type QueueRow,
  type QueueStatementKind,
  queueStatement,
} from './statements.js';
import type { Transactor } from './transaction.js';
import type { Entry, QueueOptions, SetOptions, Tag } from './types.js';

const QUEUE_START = 500000000000000n;
/** The key range of the integer queue (no prefix). */
const QUEUE_BOUNDS: readonly [DbValue, DbValue] = [0n, 999999999999999n];

/** What the queue operations need of their Cache. */
export interface QueueHost {
  readonly db: Database.Database;
  readonly disk: Disk;
  readonly tx: Transactor;
  readonly culler: Culler;
  /** The current statements (prepared again when a setting changes). */
  statements(): CacheStatements;
  cullLimit(): number;
  /** A row's value; `undefined` when its value file is gone. */
  fetch(
    mode: number,
    filename: string | null,
    value: DbValue,
    dbKey: DbValue,
    raw: number,
  ): unknown;
  /** Absolute expiry time for `expire` seconds from `now` (validated). */
  expireAt(now: number, expire: number | null | undefined): number | null;
  /** A tag as bound to SQLite (validated). */
  bindTag(tag: Tag | undefined): DbValue;
}

function checkSide(side: unknown, fallback: 'back' | 'front'): 'back' | 'front' {
  if (side === undefined) return fallback;
  if (side !== 'back' && side !== 'front')
    throw new TypeError(`side must be 'back' or 'front', got ${String(side)}`);
  return side;
}

function bounds(prefix: string | null | undefined): readonly [DbValue, DbValue] {
  if (prefix === undefined || prefix === null) return QUEUE_BOUNDS;
  if (typeof prefix !== 'string')
    throw new TypeError(`prefix must be a string, got ${typeof prefix}`);
  return [`${prefix}-000000000000000`, `${prefix}-999999999999999`];
}

/** Runs a write with RETURNING and gives its first row (see `returning` in cache.ts). */
function first<R>(
  statement: Database.Statement<unknown[], R>,
  ...params: unknown[]
): R | undefined {
  return statement.all(...params)[0];
}

function isExpired(expireTime: number | null): boolean {
  return expireTime !== null && expireTime < Date.now() / 1000;
}

function readTag(tag: unknown): Tag {
  return typeof tag === 'bigint' ? intToJs(tag) : (tag as Tag);
}

/** The queue operations of one Cache. */
export class CacheQueue {
  readonly #host: QueueHost;

  constructor(host: QueueHost) {
    this.#host = host;
  }

  /** The push/pull/peek statement, prepared on first use (prefix or not, front or back). */
  #statement(kind: QueueStatementKind, prefixed: boolean, side: 'back' | 'front') {
    const host = this.#host;
    return queueStatement(host.db, host.statements(), kind, prefixed, side, host.cullLimit());
  }

  /** An entry from a queue row; `null` when its value file is gone. */
  #entry(row: QueueRow): Entry | null {
    const [key, expireTime, tag, mode, filename, value] = row;
    const fetched = this.#host.fetch(Number(mode), filename, value, key, 1);
    if (fetched === undefined) return null;
    return {
      key: typeof key === 'bigint' ? intToJs(key) : key,
      value: fetched,
      expireTime,
      tag: readTag(tag),
    };
  }

  /** The checked arguments of a push (every one checked before any value file is written). */
  #writeArguments(options: (QueueOptions & SetOptions) | undefined) {
    const side = checkSide(options?.side, 'back');
    const prefix = options?.prefix ?? null;
    const [min, max] = bounds(prefix);
    const now = Date.now() / 1000;
    const expireTime = this.#host.expireAt(now, options?.expire);
    const tag = this.#host.bindTag(options?.tag);
    return { side, prefix, min, max, now, expireTime, tag };
  }

  push(value: unknown, options?: QueueOptions & SetOptions): string | number | bigint {
    const host = this.#host;
    const { side, prefix, min, max, now, expireTime, tag } = this.#writeArguments(options);
    const { size, mode, filename, dbValue } = host.disk.store(value);
    const statement = this.#statement('push', prefix !== null, side) as Database.Statement<
      unknown[],
      PushRow
    >;
    const [key, minExpireTime] = host.tx.run(options?.retry ?? false, filename, () =>
      prefix === null
        ? first(statement, min, max, now, expireTime, now, tag, size, mode, filename, dbValue)
        : first(
            statement,
            prefix,
            min,
            max,
            BigInt(prefix.length + 2),
            now,
            expireTime,
            now,
            tag,
            size,
            mode,
            filename,
            dbValue,
          ),
    )!;
    host.culler.cullAfter(minExpireTime, now);
    return typeof key === 'bigint' ? intToJs(key) : (key as string | number);
  }

  pushMany(
    values: Iterable<unknown>,
    options?: QueueOptions & SetOptions,
  ): (string | number | bigint)[] {
    const host = this.#host;
    const { side, prefix, min, max, now, expireTime, tag } = this.#writeArguments(options);
    const stored: StoredValue[] = [];
    try {
      for (const value of values) stored.push(host.disk.store(value));
    } catch (error) {
      for (const item of stored) if (item.filename !== null) host.disk.remove(item.filename);
      throw error;
    }
    if (stored.length === 0) return [];
    const files = stored.flatMap((item) => (item.filename === null ? [] : [item.filename]));
    const end = this.#statement('peek', prefix !== null, side) as Database.Statement<
      unknown[],
      QueueRow
    >;
    const step = side === 'back' ? 1n : -1n;
    let inTransaction = false;
    try {
      return host.tx.write(options?.retry ?? false, null, () => {
        inTransaction = true;
        host.tx.addWritten(files); // deleted if the transaction rolls back
        const last = end.get(min, max);
        let next: bigint;
        if (last === undefined) next = QUEUE_START;
        else if (prefix === null) next = (last[0] as bigint) + step;
        else next = BigInt((last[0] as string).slice(prefix.length + 1)) + step;
        const keys: (string | number | bigint)[] = [];
        const params: unknown[] = [];
        const insertBatch = insertBatchStatement(host.db, host.statements());
        const insertRow = host.statements().insertRow;
        for (const item of stored) {
          const dbKey = prefix === null ? next : `${prefix}-${next.toString().padStart(15, '0')}`;
          params.push(
            dbKey,
            1n,
            now,
            expireTime,
            now,
            tag,
            item.size,
            item.mode,
            item.filename,
            item.dbValue,
          );
          keys.push(typeof dbKey === 'bigint' ? intToJs(dbKey) : dbKey);
          next += step;
          // One statement per BATCH rows: half the cost of a statement per row.
          if (params.length === BATCH * 10) insertBatch.run(...params.splice(0));
        }
        for (let at = 0; at < params.length; at += 10) insertRow.run(...params.slice(at, at + 10));
        host.culler.cull(now);
        return keys;
      });
    } catch (error) {
      if (!inTransaction) for (const file of files) host.disk.remove(file);
      throw error;
    }
  }

  pull<V>(options?: QueueOptions): Entry<V> | undefined {
    const host = this.#host;
    const side = checkSide(options?.side, 'front');
    const [min, max] = bounds(options?.prefix);
    const statement = this.#statement('pull', options?.prefix != null, side) as Database.Statement<
      unknown[],
      QueueRow
    >;
    for (;;) {
      const row = host.tx.run(options?.retry ?? false, null, () => first(statement, min, max));
      if (row === undefined) return undefined;
      const entry = isExpired(row[1]) ? null : this.#entry(row);
      host.tx.removeLater(row[4]);
      if (entry) return entry as Entry<V>;
    }
  }

  peek<V>(options?: QueueOptions): Entry<V> | undefined {
    const host = this.#host;
    const side = checkSide(options?.side, 'front');
    const [min, max] = bounds(options?.prefix);
    const statement = this.#statement('peek', options?.prefix != null, side) as Database.Statement<
      unknown[],
      QueueRow
    >;
    return host.tx.write(options?.retry ?? false, null, () => {
      for (;;) {
        const row = statement.get(min, max);
        if (row === undefined) return undefined;
        const entry = isExpired(row[1]) ? null : this.#entry(row);
        if (entry) return entry as Entry<V>;
        const [, , , , filename, , rowid] = row;
        host.statements().deleteRowid.run(rowid);
        host.tx.removeLater(filename);
      }
    });
  }

  peekItem<V>(options?: { last?: boolean; retry?: boolean }): Entry<V> | undefined {
    const host = this.#host;
    const s = host.statements();
    const statement: Database.Statement<unknown[], ItemRow> =
      options?.last === false ? s.peekItemFirst : s.peekItemLast;
    return host.tx.write(options?.retry ?? false, null, () => {
      for (;;) {
        const row = statement.get();
        if (row === undefined) return undefined;
        const [rowid, key, raw, expireTime, tag, mode, filename, value] = row;
        const fetched = isExpired(expireTime)
          ? undefined
          : host.fetch(Number(mode), filename, value, key, Number(raw));
        if (fetched !== undefined) {
          return {
            key: host.disk.get(key, Number(raw)),
            value: fetched as V,
            expireTime,
            tag: readTag(tag),
          };
        }
        s.deleteRowid.run(rowid);
        host.tx.removeLater(filename);
      }
    });
  }
}
