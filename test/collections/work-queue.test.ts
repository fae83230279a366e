/**
 * WorkQueue in one process (several WorkQueue objects on one directory play several workers):
 * put/take/ack, payloads, idempotent keys, delays, leases and fencing, retries and the failed
 * list, release, next() waiting and cancellation, settings, validation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, LeaseLostError } from '../../src/cache/errors.js';
import { Index } from '../../src/collections/index.js';
import { HOLDER_WIDTH } from '../../src/collections/lease-holder.js';
import { type Job, WorkQueue, type WorkQueueOptions } from '../../src/collections/work-queue.js';
import { ackCounts, installAckAudit } from '../fixtures/queue-audit.js';
import { tempDir } from '../helpers/tmp.js';

const open: WorkQueue<unknown>[] = [];

function queue<T = unknown>(directory = tempDir('wq'), options?: WorkQueueOptions): WorkQueue<T> {
  const q = new WorkQueue<T>(directory, options);
  open.push(q as WorkQueue<unknown>);
  return q;
}

afterEach(() => {
  for (const q of open.splice(0)) q.close();
});

describe('put, take, ack', () => {
  it('hands out jobs in put order, each once, and counts them by state', () => {
    const q = queue<string>();
    const ids = ['a', 'b', 'c'].map((payload) => q.put(payload));
    expect(ids).toEqual([1, 2, 3]);
    expect(q.stats()).toEqual({ pending: 3, leased: 0, done: 0, failed: 0 });
    const first = q.take()!;
    expect([first.id, first.payload, first.attempt, first.key]).toEqual([1, 'a', 1, undefined]);
    expect(q.stats()).toEqual({ pending: 2, leased: 1, done: 0, failed: 0 });
    const rest = q.takeMany(10);
    expect(rest.map((job) => job.payload)).toEqual(['b', 'c']);
    expect(q.take()).toBeUndefined();
    first.ack();
    expect(first.settled).toBe(true);
    expect(q.ackMany(rest)).toEqual([]);
    expect(q.stats()).toEqual({ pending: 0, leased: 0, done: 3, failed: 0 });
    expect(q.isDrained()).toBe(true);
  });

  it('stores results in the results Index under the job id, or under its key', () => {
    const directory = tempDir('wq');
    const q = queue(directory);
    q.put('plain');
    q.put('keyed', { key: 'file.txt' });
    q.put('no result');
    const [plain, keyed, none] = q.takeMany(3);
    plain!.ack({ size: 1 });
    q.ackMany([{ job: keyed!, result: 'abc123' }, none!]);
    expect(q.results.get(1)).toEqual({ size: 1 });
    expect(q.results.get('file.txt')).toBe('abc123');
    expect(q.results.has(3)).toBe(false);
    expect(q.results.size).toBe(2);
    const index = new Index(path.join(directory, 'results'));
    expect(index.get('file.txt')).toBe('abc123');
    index.close();
  });

  it('keeps payload types: JSON-like values as JSON, the rest through structured clone', () => {
    const q = queue();
    const payloads: unknown[] = [
      { url: 'https://example.com', depth: 2, tags: ['a', 'b'], ok: true, none: null },
      'text',
      42.5,
      [1, [2, [3]]],
      new Map([['k', new Set([1, 2])]]),
      new Date(86_400_000),
      12345678901234567890n,
      Buffer.from('bytes'),
      { missing: undefined, nan: Number.NaN, negativeZero: -0 },
      null,
    ];
    q.putMany(payloads);
    const got = q.takeMany(100).map((job) => job.payload);
    expect(got).toEqual(payloads);
    expect(Object.is((got[8] as { negativeZero: number }).negativeZero, -0)).toBe(true);
    expect(Buffer.isBuffer(got[7])).toBe(true);
    expect('missing' in (got[8] as object)).toBe(true);
  });

  it('rejects payloads it cannot store', () => {
    const q = queue();
    expect(() => q.put(undefined)).toThrow(TypeError);
    expect(() => q.put({ f: () => 1 })).toThrow(/structured-cloneable/);
    expect(() => q.putMany(['ok', undefined])).toThrow(TypeError);
    expect(q.stats().pending).toBe(0); // putMany is all or nothing
  });

  it('putMany adds every job in one call, with keys and a delay', () => {
    const q = queue<{ n: number }>();
    const ids = q.putMany([{ n: 1 }, { n: 2 }, { n: 1 }], { key: (payload) => `n${payload.n}` });
    expect(ids).toEqual([1, 2, undefined]);
    expect(q.putMany([], {})).toEqual([]);
    q.putMany([{ n: 3 }], { delaySeconds: 60 });
    expect(q.stats().pending).toBe(3);
    expect(q.takeMany(10).map((job) => job.payload.n)).toEqual([1, 2]);
  });
});

describe('idempotent keys', () => {
  it('ignores a second put with the same key, even after the job is done', () => {
    const q = queue<string>();
    expect(q.put('first', { key: 'k' })).toBe(1);
    expect(q.put('second', { key: 'k' })).toBeUndefined();
    const job = q.take()!;
    expect([job.payload, job.key]).toEqual(['first', 'k']);
    job.ack();
    expect(q.put('third', { key: 'k' })).toBeUndefined();
    expect(q.stats()).toEqual({ pending: 0, leased: 0, done: 1, failed: 0 });
  });

  it('forgets the keys of purged done jobs', () => {
    const q = queue<string>();
    q.put('a', { key: 'k' });
    q.take()!.ack('result');
    expect(q.purgeDone({ olderThanSeconds: 3600 })).toBe(0);
    expect(q.purgeDone()).toBe(1);
    expect(q.stats().done).toBe(0);
    expect(q.results.get('k')).toBe('result');
    expect(q.put('again', { key: 'k' })).toBeTypeOf('number');
  });

  it('rejects a key that is not a string', () => {
    const q = queue();
    expect(() => q.put('x', { key: 5 as unknown as string })).toThrow(
      /key must be a string, got 5/,
    );
  });
});

describe('delays', () => {
  it('does not hand out a delayed job before its time', async () => {
    const q = queue<string>();
    q.put('later', { delaySeconds: 1.5 });
    q.put('now');
    expect(q.take()!.payload).toBe('now');
    expect(q.take()).toBeUndefined();
    expect(q.stats().pending).toBe(1);
    expect(q.isDrained()).toBe(false);
    await sleep(1600);
    expect(q.take()!.payload).toBe('later');
  });
});

describe('leases and fencing', () => {
  it('hands an expired job to another worker and rejects the first worker with LeaseLostError', async () => {
    const directory = tempDir('wq');
    const first = queue<string>(directory, { leaseSeconds: 1 });
    const second = queue<string>(directory);
    installAckAudit(directory);
    first.put('job');
    const lost = first.take()!;
    expect(second.take()).toBeUndefined();
    await sleep(1100);
    const retaken = second.take()!;
    expect([retaken.id, retaken.attempt]).toEqual([lost.id, 2]);
    expect(() => lost.ack('late')).toThrow(LeaseLostError);
    expect(() => lost.ack('late')).toThrow(/taken again \(now attempt 2\)/);
    expect(() => lost.fail(new Error('late'))).toThrow(LeaseLostError);
    expect(() => lost.extend(10)).toThrow(LeaseLostError);
    expect(() => lost.release()).toThrow(LeaseLostError);
    expect(first.ackMany([lost])).toEqual([lost]);
    retaken.ack('on time');
    expect(second.results.get(lost.id)).toBe('on time');
    expect(ackCounts(directory)).toEqual(new Map([[lost.id, 1]]));
    expect(second.stats()).toEqual({ pending: 0, leased: 0, done: 1, failed: 0 });
  });

  it('accepts a late ack when nobody reclaimed the job meanwhile', async () => {
    const q = queue<string>(undefined, { leaseSeconds: 0.2 });
    q.put('job');
    const job = q.take()!;
    await sleep(300);
    job.ack();
    expect(q.stats().done).toBe(1);
  });

  it('keeps a job leased while it is extended', async () => {
    const directory = tempDir('wq');
    const worker = queue<string>(directory, { leaseSeconds: 0.4 });
    const other = queue<string>(directory);
    worker.put('long job');
    const job = worker.take()!;
    const before = job.leaseExpiresAt;
    await sleep(250);
    job.extend(5);
    expect(job.leaseExpiresAt).toBeGreaterThan(before + 4);
    await sleep(300);
    expect(other.take()).toBeUndefined();
    expect(worker.extendMany([job], 5)).toEqual([]);
    job.ack();
    expect(other.stats().done).toBe(1);
  });

  it('counts an expired lease as an attempt: after maxAttempts expiries the job is failed', async () => {
    const q = queue<string>(undefined, { leaseSeconds: 0.15, maxAttempts: 2 });
    q.put('crashes its worker');
    q.take();
    await sleep(200);
    expect(q.take()!.attempt).toBe(2);
    await sleep(200);
    expect(q.take()).toBeUndefined();
    const [failed] = q.failed();
    expect(failed!.attempts).toBe(2);
    expect(failed!.error).toMatch(/lease of attempt 2 expired/);
    expect(q.stats()).toEqual({ pending: 0, leased: 0, done: 0, failed: 1 });
  });

  it('release gives a job back at once without counting the attempt', () => {
    const q = queue<string>();
    q.put('job');
    const job = q.take()!;
    job.release();
    expect(job.settled).toBe(true);
    const again = q.take()!;
    expect([again.id, again.attempt]).toEqual([job.id, 1]);
    expect(() => job.ack()).toThrow(/already settled/);
    expect(q.releaseMany([again])).toEqual([]);
  });

  it('refuses a job object from another WorkQueue object, and a forged one', () => {
    const directory = tempDir('wq');
    const a = queue(directory);
    const b = queue(directory);
    a.put(1);
    const job = a.take()!;
    expect(() => b.ack(job)).toThrow(/another WorkQueue object/);
    expect(() => a.ack({ id: job.id } as Job<unknown>)).toThrow(TypeError);
    job.ack();
  });
});

describe('failures, retries and the failed list', () => {
  it('retries a failed job after retryInSeconds, then moves it to the failed list after maxAttempts', () => {
    const q = queue<string>(undefined, { maxAttempts: 2 });
    q.put('flaky', { key: 'f' });
    const first = q.take()!;
    expect(first.fail(new Error('boom 1'), { retryInSeconds: 0 })).toBe('retrying');
    const second = q.take()!;
    expect(second.attempt).toBe(2);
    expect(second.fail(new Error('boom 2'))).toBe('failed');
    expect(q.take()).toBeUndefined();
    expect(q.stats()).toEqual({ pending: 0, leased: 0, done: 0, failed: 1 });
    const [failed] = q.failed();
    expect(failed).toMatchObject({ id: 1, key: 'f', payload: 'flaky', attempts: 2 });
    expect(failed!.error).toMatch(/^Error: boom 2/);
    expect(failed!.failedAt).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(q.retryFailed()).toBe(1);
    expect(q.failed()).toEqual([]);
    const again = q.take()!;
    expect([again.payload, again.attempt]).toEqual(['flaky', 1]);
    again.ack();
    expect(q.stats()).toEqual({ pending: 0, leased: 0, done: 1, failed: 0 });
  });

  it('waits an exponential backoff before a retry by default', () => {
    const q = queue<string>(undefined, { backoffSeconds: 30 });
    expect([1, 2, 3].map((attempt) => q.backoffSeconds(attempt))).toEqual([30, 60, 120]);
    expect(q.backoffSeconds(30)).toBe(3600);
    q.put('job');
    q.take()!.fail('a string error');
    expect(q.take()).toBeUndefined();
    expect(q.stats().pending).toBe(1);
  });

  it('limits the failed list it returns', () => {
    const q = queue<number>(undefined, { maxAttempts: 1 });
    q.putMany([1, 2, 3]);
    for (const job of q.takeMany(3)) job.fail({ code: job.payload });
    expect(q.failed({ limit: 2 }).map((job) => job.payload)).toEqual([1, 2]);
    expect(q.failed()[2]!.error).toBe('{"code":3}');
  });
});

describe('next()', () => {
  it('returns a ready job at once, and undefined after timeoutSeconds', async () => {
    const q = queue<string>();
    expect(await q.next({ timeoutSeconds: 0.05 })).toBeUndefined();
    q.put('ready');
    expect((await q.next({ timeoutSeconds: 0 }))!.payload).toBe('ready');
  });

  it('wakes when this process puts a job', async () => {
    const directory = tempDir('wq');
    const worker = queue<string>(directory);
    const producer = queue<string>(directory);
    const waiting = worker.next({ timeoutSeconds: 30 });
    await sleep(120);
    producer.put('arrived');
    expect((await waiting)!.payload).toBe('arrived');
  });

  it('wakes when a delayed job becomes ready', async () => {
    const q = queue<string>();
    q.put('soon', { delaySeconds: 0.3 });
    expect((await q.next({ timeoutSeconds: 30 }))!.payload).toBe('soon');
  });

  it('is cancelled by its AbortSignal with AbortError', async () => {
    const q = queue();
    const controller = new AbortController();
    const waiting = q.next({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('enough')), 50);
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toEqual(new Error('enough'));
    await expect(q.next({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });
});

describe('settings, layout and lifecycle', () => {
  it('persists its options for later openers, and validates them', () => {
    const directory = tempDir('wq');
    queue(directory, { leaseSeconds: 7, maxAttempts: 5, backoffSeconds: 0.5 });
    expect(queue(directory).settings).toEqual({
      leaseSeconds: 7,
      maxAttempts: 5,
      backoffSeconds: 0.5,
      resultsFormat: 'default',
    });
    expect(queue(directory, { maxAttempts: 2 }).settings.maxAttempts).toBe(2);
    expect(() => new WorkQueue(directory, { leaseSeconds: 0 })).toThrow(
      /leaseSeconds must be a finite number of seconds > 0, got 0/,
    );
    expect(() => new WorkQueue(directory, { maxAttempts: 1.5 })).toThrow(RangeError);
    expect(() => new WorkQueue(directory, { maxAttempts: '3' as unknown as number })).toThrow(
      /maxAttempts must be an integer, got "3"/,
    );
    expect(() => new WorkQueue(directory, { leaseSecond: 3 } as WorkQueueOptions)).toThrow(
      /unknown option "leaseSecond"/,
    );
    expect(() => new WorkQueue('')).toThrow(TypeError);
    const q = queue(directory);
    expect(() => q.takeMany(-1)).toThrow(RangeError);
    expect(() => q.take({ leaseSeconds: -1 })).toThrow(RangeError);
    expect(() => q.put(1, { delaySeconds: Number.NaN })).toThrow(TypeError);
  });

  it('is a diskcache directory: cache.db with the Cache tables plus its own', () => {
    const directory = tempDir('wq');
    queue(directory).put('x');
    const db = new Database(path.join(directory, 'cache.db'), { readonly: true });
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck(true)
      .all();
    const settings = Object.fromEntries(
      db.prepare('SELECT key, value FROM Settings').raw(true).all() as [string, unknown][],
    );
    db.close();
    expect(tables).toEqual(['Cache', 'Settings', 'WorkQueue_jobs', 'WorkQueue_settings']);
    expect(settings.eviction_policy).toBe('none');
  });

  it('opens a queue written before leases named their holder, and its leases run out as before', async () => {
    const directory = tempDir('wq');
    const old = new WorkQueue<string>(directory);
    old.putMany(['held', 'waiting']);
    expect(old.take({ leaseSeconds: 0.5 })?.payload).toBe('held');
    old.close();
    // The tables as the first version wrote them: no holder columns.
    const db = new Database(path.join(directory, 'cache.db'));
    db.exec('ALTER TABLE WorkQueue_jobs DROP COLUMN holder');
    db.exec('ALTER TABLE WorkQueue_jobs DROP COLUMN holder_lease');
    db.close();
    const q = queue<string>(directory);
    expect(q.leaseHolders()).toMatchObject([{ pid: undefined, status: 'unknown', jobs: 1 }]);
    expect(q.take()?.payload).toBe('waiting');
    const again = await q.next({ timeoutSeconds: 30 });
    expect([again?.payload, again?.attempt]).toEqual(['held', 2]);
    expect(q.leaseHolders()).toMatchObject([{ pid: process.pid, status: 'alive', jobs: 2 }]);
  });

  it('claims a job without growing its row (a put leaves room for the holder), whoever holds it', () => {
    const directory = tempDir('wq');
    const q = queue<string>(directory);
    q.putMany(['mine', 'supervised']);
    const sizes = () => {
      const db = new Database(path.join(directory, 'cache.db'), { readonly: true });
      try {
        return db
          .prepare('SELECT id, length(CAST(holder AS BLOB)) FROM WorkQueue_jobs ORDER BY id')
          .raw(true)
          .all();
      } finally {
        db.close();
      }
    };
    const before = sizes();
    expect(before).toEqual([
      [1, HOLDER_WIDTH],
      [2, HOLDER_WIDTH],
    ]);
    // A holder with a supervisor is longer, and still fits in the room left.
    const supervised = queue<string>(directory, { leaseSupervisor: process.pid });
    expect(q.take()?.payload).toBe('mine');
    expect(supervised.take()?.payload).toBe('supervised');
    expect(sizes()).toEqual(before);
    expect(q.leaseHolders().map(({ pid, status, jobs }) => ({ pid, status, jobs }))).toEqual([
      { pid: process.pid, status: 'alive', jobs: 1 },
      { pid: process.pid, status: 'alive', jobs: 1 },
    ]);
  });

  it('throws once closed', () => {
    const q = new WorkQueue(tempDir('wq'));
    q.close();
    q.close();
    expect(q.closed).toBe(true);
    expect(() => q.put(1)).toThrow(/closed/);
    expect(() => q.take()).toThrow(/closed/);
  });

  it('survives reopening: jobs, leases and results are on disk', () => {
    const directory = tempDir('wq');
    const q = new WorkQueue<string>(directory);
    q.putMany(['a', 'b']);
    q.take()!.ack('A');
    q.close();
    const reopened = queue<string>(directory);
    expect(reopened.stats()).toEqual({ pending: 1, leased: 0, done: 1, failed: 0 });
    expect(reopened.results.get(1)).toBe('A');
    expect(fs.existsSync(path.join(directory, 'results', 'cache.db'))).toBe(true);
  });
});
