/**
 * The behaviour suite of an AsyncWorkQueue, run against every backend (imported by the backend's
 * test file, which says how to open a queue): put/take/ack, payload types, idempotent keys, delays,
 * leases and fencing, retries with backoff and the failed list, release, purgeDone, results,
 * stats, next() waiting and cancellation. Two queue objects on one store play two workers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, LeaseLostError } from '../../src/cache/errors.js';
import { AsyncJob, type AsyncWorkQueue } from '../../src/collections/async-work-queue.js';
import type { WorkQueueOptions } from '../../src/collections/work-queue.js';
import { SqliteAsyncWorkQueue } from '../../src/collections/work-queue-async.js';

/** Options a suite passes to a backend (the persisted queue options). */
export type SuiteQueueOptions = Omit<WorkQueueOptions, 'timeout'>;

/** One queue's storage (a directory, a Redis queue name); `open` may be called several times. */
export interface SuiteStore {
  open<T>(options?: SuiteQueueOptions): Promise<AsyncWorkQueue<T>>;
}

/** Runs the suite; `newStore` makes a fresh, empty store for each test. */
export function describeAsyncQueue(backend: string, newStore: () => SuiteStore): void {
  const open: AsyncWorkQueue<unknown>[] = [];

  afterEach(async () => {
    for (const q of open.splice(0)) await q.close();
  });

  /** A fresh store and a function opening queue objects on it (closed after the test). */
  function store() {
    const s = newStore();
    return async <T>(options?: SuiteQueueOptions) => {
      const q = await s.open<T>(options);
      open.push(q as AsyncWorkQueue<unknown>);
      return q;
    };
  }

  async function queue<T>(options?: SuiteQueueOptions): Promise<AsyncWorkQueue<T>> {
    return store()<T>(options);
  }

  describe(`${backend}: put, take, ack`, () => {
    it('hands out jobs in put order, each once, and counts them by state', async () => {
      const q = await queue<string>();
      const ids = [];
      for (const payload of ['a', 'b', 'c']) ids.push(await q.put(payload));
      expect(ids).toEqual([1, 2, 3]);
      expect(await q.stats()).toEqual({ pending: 3, leased: 0, done: 0, failed: 0 });
      const first = (await q.take())!;
      expect([first.id, first.payload, first.attempt, first.key]).toEqual([1, 'a', 1, undefined]);
      expect(first.leaseExpiresAt).toBeGreaterThan(Date.now() / 1000 + 10);
      expect(await q.stats()).toEqual({ pending: 2, leased: 1, done: 0, failed: 0 });
      const rest = await q.takeMany(10);
      expect(rest.map((job) => job.payload)).toEqual(['b', 'c']);
      expect(await q.take()).toBeUndefined();
      expect(await q.takeMany(0)).toEqual([]);
      await first.ack();
      expect(first.settled).toBe(true);
      const [second, third] = rest;
      // The same job twice in one batch is acked once; the repeat is reported lost.
      expect(await q.ackMany([second!, second!])).toEqual([second]);
      expect(await q.ackMany([third!])).toEqual([]);
      expect(await q.stats()).toEqual({ pending: 0, leased: 0, done: 3, failed: 0 });
      expect(await q.isDrained()).toBe(true);
    });

    it('acks with a tag for the result (stored in a directory, ignored on Redis), and refuses a tag that is not one', async () => {
      const q = await queue<string>();
      await q.putMany(['a', 'b', 'c', 'd'], { key: (payload) => payload });
      const [a, b, c, d] = await q.takeMany(4);
      await expect(
        q.ackMany([{ job: a!, result: 1, tag: {} as unknown as string }]),
      ).rejects.toThrow(/ackMany: tag must be a string, a number .*got/);
      expect((await q.stats()).leased).toBe(4); // nothing acked
      expect(
        await q.ackMany([
          { job: a!, result: { status: 200 }, tag: '200' },
          { job: b!, result: { status: 404 }, tag: '404' },
          { job: c!, result: { status: 200 }, tag: '200' },
          { job: d!, result: 'untagged' },
        ]),
      ).toEqual([]);
      expect(await q.results.get('b')).toEqual({ status: 404 });
      expect((await q.stats()).done).toBe(4);
      if (q instanceof SqliteAsyncWorkQueue)
        expect(q.queue.results.cache.tagCounts()).toEqual(
          new Map<unknown, number>([
            ['200', 2],
            ['404', 1],
            [null, 1],
          ]),
        );
    });

    it('stores results under the job id, or under its key, in insertion order', async () => {
      const q = await queue<string>();
      await q.put('plain');
      await q.put('keyed', { key: 'file.txt' });
      await q.put('no result');
      const [plain, keyed, none] = await q.takeMany(3);
      await plain!.ack({ size: 1, big: 2n });
      await q.ackMany([{ job: keyed!, result: 'abc123' }, none!]);
      expect(await q.results.get(1)).toEqual({ size: 1, big: 2n });
      expect(await q.results.get('file.txt')).toBe('abc123');
      expect(await q.results.get('1')).toBeUndefined();
      expect(await q.results.has(3)).toBe(false);
      expect(await q.results.size()).toBe(2);
      await q.results.set('extra', [1]);
      await q.results.set(1, 'overwritten');
      const entries = [];
      for await (const entry of q.results.entries()) entries.push(entry);
      expect(entries).toEqual([
        [1, 'overwritten'],
        ['file.txt', 'abc123'],
        ['extra', [1]],
      ]);
      expect(await q.results.delete('file.txt')).toBe(true);
      expect(await q.results.delete('file.txt')).toBe(false);
      const keys = [];
      for await (const key of q.results.keys()) keys.push(key);
      expect(keys).toEqual([1, 'extra']);
    });

    it('keeps payload types: JSON-like values as JSON, the rest through structured clone', async () => {
      const q = await queue();
      const payloads: unknown[] = [
        { url: 'https://example.com', depth: 2, tags: ['a', 'b'], ok: true, none: null },
        'text with ünïcødé ✓',
        42.5,
        [1, [2, [3]]],
        new Map([['k', new Set([1, 2])]]),
        new Date(86_400_000),
        12345678901234567890n,
        Buffer.from([0, 255, 10, 13]),
        { missing: undefined, nan: Number.NaN, negativeZero: -0 },
        null,
        'v8:not really',
      ];
      await q.putMany(payloads);
      const got = (await q.takeMany(100)).map((job) => job.payload);
      expect(got).toEqual(payloads);
      expect(Object.is((got[8] as { negativeZero: number }).negativeZero, -0)).toBe(true);
      expect(Buffer.isBuffer(got[7])).toBe(true);
      expect('missing' in (got[8] as object)).toBe(true);
    });

    it('rejects payloads it cannot store, and putMany adds nothing then', async () => {
      const q = await queue();
      await expect(q.put(undefined)).rejects.toThrow(TypeError);
      await expect(q.put({ f: () => 1 })).rejects.toThrow(/structured-cloneable/);
      await expect(q.putMany(['ok', undefined])).rejects.toThrow(TypeError);
      expect((await q.stats()).pending).toBe(0);
    });

    it('putMany adds every job, with keys and a delay', async () => {
      const q = await queue<{ n: number }>();
      const ids = await q.putMany([{ n: 1 }, { n: 2 }, { n: 1 }], {
        key: (payload) => `n${payload.n}`,
      });
      expect(ids).toEqual([1, 2, undefined]);
      expect(await q.putMany([], {})).toEqual([]);
      await q.putMany([{ n: 3 }], { delaySeconds: 60 });
      expect((await q.stats()).pending).toBe(3);
      expect((await q.takeMany(10)).map((job) => job.payload.n)).toEqual([1, 2]);
    });
  });

  describe(`${backend}: idempotent keys`, () => {
    it('ignores a second put with the same key, even after the job is done', async () => {
      const q = await queue<string>();
      expect(await q.put('first', { key: 'k' })).toBe(1);
      expect(await q.put('second', { key: 'k' })).toBeUndefined();
      const job = (await q.take())!;
      expect([job.payload, job.key]).toEqual(['first', 'k']);
      await job.ack();
      expect(await q.put('third', { key: 'k' })).toBeUndefined();
      expect(await q.put('empty key', { key: '' })).toBe(2);
      expect(await q.put('empty key again', { key: '' })).toBeUndefined();
      expect(await q.stats()).toEqual({ pending: 1, leased: 0, done: 1, failed: 0 });
    });

    it('forgets the keys of purged done jobs, and keeps their results', async () => {
      const q = await queue<string>();
      await q.put('a', { key: 'k' });
      await (await q.take())!.ack('result');
      expect(await q.purgeDone({ olderThanSeconds: 3600 })).toBe(0);
      expect(await q.purgeDone()).toBe(1);
      expect((await q.stats()).done).toBe(0);
      expect(await q.results.get('k')).toBe('result');
      expect(await q.put('again', { key: 'k' })).toBeTypeOf('number');
    });

    it('rejects a key that is not a string', async () => {
      const q = await queue();
      await expect(q.put('x', { key: 5 as unknown as string })).rejects.toThrow(
        /key must be a string, got 5/,
      );
    });
  });

  describe(`${backend}: delays`, () => {
    it('does not hand out a delayed job before its time', async () => {
      const q = await queue<string>();
      await q.put('later', { delaySeconds: 0.6 });
      await q.put('now');
      expect((await q.take())!.payload).toBe('now');
      expect(await q.take()).toBeUndefined();
      expect((await q.stats()).pending).toBe(1);
      expect(await q.isDrained()).toBe(false);
      await sleep(700);
      expect((await q.take())!.payload).toBe('later');
    });
  });

  describe(`${backend}: leases and fencing`, () => {
    it('hands an expired job to another worker and rejects the first with LeaseLostError', async () => {
      const openOn = store();
      const first = await openOn<string>({ leaseSeconds: 0.3 });
      const second = await openOn<string>();
      await first.put('job');
      const lost = (await first.take())!;
      expect(await second.take()).toBeUndefined();
      await sleep(400);
      const retaken = (await second.take({ leaseSeconds: 30 }))!;
      expect([retaken.id, retaken.attempt]).toEqual([lost.id, 2]);
      await expect(lost.ack('late')).rejects.toThrow(LeaseLostError);
      await expect(lost.ack('late')).rejects.toThrow(/taken again \(now attempt 2\)/);
      await expect(lost.fail(new Error('late'))).rejects.toThrow(LeaseLostError);
      await expect(lost.extend(10)).rejects.toThrow(LeaseLostError);
      await expect(lost.release()).rejects.toThrow(LeaseLostError);
      expect(await first.ackMany([lost])).toEqual([lost]);
      expect(await first.extendMany([lost])).toEqual([lost]);
      expect(await first.releaseMany([lost])).toEqual([lost]);
      await retaken.ack('on time');
      await expect(retaken.ack('twice')).rejects.toThrow(/already settled/);
      expect(await second.results.get(lost.id)).toBe('on time');
      expect(await second.stats()).toEqual({ pending: 0, leased: 0, done: 1, failed: 0 });
    });

    it('accepts a late ack when nobody reclaimed the job meanwhile', async () => {
      const q = await queue<string>({ leaseSeconds: 0.2 });
      await q.put('job');
      const job = (await q.take())!;
      await sleep(300);
      await job.ack();
      expect((await q.stats()).done).toBe(1);
    });

    it('keeps a job leased while it is extended', async () => {
      const openOn = store();
      const worker = await openOn<string>({ leaseSeconds: 0.4 });
      const other = await openOn<string>();
      await worker.put('long job');
      const job = (await worker.take())!;
      const before = job.leaseExpiresAt;
      await sleep(250);
      await job.extend(5);
      expect(job.leaseExpiresAt).toBeGreaterThan(before + 4);
      await sleep(300);
      expect(await other.take()).toBeUndefined();
      expect(await worker.extendMany([job], 5)).toEqual([]);
      await job.ack();
      expect((await other.stats()).done).toBe(1);
    });

    it('counts an expired lease as an attempt: after maxAttempts expiries the job is failed', async () => {
      const q = await queue<string>({ leaseSeconds: 0.15, maxAttempts: 2 });
      await q.put('crashes its worker');
      await q.take();
      await sleep(200);
      expect((await q.take())!.attempt).toBe(2);
      await sleep(200);
      expect(await q.take()).toBeUndefined();
      const [failed] = await q.failed();
      expect(failed!.attempts).toBe(2);
      expect(failed!.error).toMatch(/lease of attempt 2 expired/);
      expect(await q.stats()).toEqual({ pending: 0, leased: 0, done: 0, failed: 1 });
    });

    it('release gives a job back at once without counting the attempt', async () => {
      const q = await queue<string>();
      await q.put('job');
      const job = (await q.take())!;
      await job.release();
      expect(job.settled).toBe(true);
      const again = (await q.take())!;
      expect([again.id, again.attempt]).toEqual([job.id, 1]);
      await expect(job.ack()).rejects.toThrow(/already settled/);
      expect(await q.releaseMany([again])).toEqual([]);
      expect(await q.stats()).toEqual({ pending: 1, leased: 0, done: 0, failed: 0 });
    });

    it('releaseById gives back leases named by id and attempt, without counting the attempt, and nothing else', async () => {
      const q = await queue<number>();
      await q.putMany([1, 2, 3, 4]);
      const [first, second, third, fourth] = await q.takeMany(4);
      await third!.ack();
      // A wrong attempt names another lease, a done job and an unknown id are left alone.
      const released = await q.releaseById([
        first!,
        { id: second!.id, attempt: 2 },
        third!,
        { id: 99, attempt: 1 },
      ]);
      expect(released).toEqual([first!.id]);
      expect(await q.stats()).toEqual({ pending: 1, leased: 2, done: 1, failed: 0 });
      const again = (await q.take())!;
      expect([again.id, again.attempt]).toEqual([first!.id, 1]);
      // The old holder's lease is fenced off.
      await expect(first!.ack()).rejects.toThrow(LeaseLostError);
      await fourth!.ack();
      expect(await q.releaseById([])).toEqual([]);
      await expect(q.releaseById([{ id: 1.5, attempt: 1 }])).rejects.toThrow(RangeError);
    });

    it('refuses a job object from another queue object, and a forged one', async () => {
      const openOn = store();
      const a = await openOn();
      const b = await openOn();
      await a.put(1);
      const job = (await a.take())!;
      await expect(b.ack(job)).rejects.toThrow(/another queue object/);
      await expect(a.ack({ id: job.id } as AsyncJob<unknown>)).rejects.toThrow(TypeError);
      // A copy of the object (its fields and its prototype) is not the job: the lease is private.
      const copy = Object.assign(
        Object.create(Object.getPrototypeOf(job)),
        job,
      ) as AsyncJob<unknown>;
      expect(copy).toBeInstanceOf(AsyncJob);
      await expect(a.ack(copy)).rejects.toThrow(TypeError);
      await expect(a.ackMany([copy])).rejects.toThrow(TypeError);
      await expect(a.extendMany([copy])).rejects.toThrow(TypeError);
      expect(job.settled).toBe(false);
      await job.ack();
      expect(job.settled).toBe(true);
    });

    it('settles each of the calls issued together on its own (as a worker acks and takes)', async () => {
      const openOn = store();
      const q = await openOn<number>();
      const other = await openOn<number>();
      await q.putMany([1, 2, 3, 4, 5]);
      const [first, second] = await q.takeMany(2);
      const foreign = (await other.take())!; // job 3, through another queue object
      // Not awaited one by one: a refused call must not take the others down with it.
      const [acked, refused, taken, released] = await Promise.allSettled([
        q.ackMany([first!]),
        q.ackMany([foreign as never]),
        q.takeMany(2),
        q.releaseMany([second!]),
      ]);
      expect(acked).toEqual({ status: 'fulfilled', value: [] });
      expect(refused.status).toBe('rejected');
      expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
      expect(taken.status === 'fulfilled' && taken.value.map((job) => job.payload)).toEqual([4, 5]);
      expect(released).toEqual({ status: 'fulfilled', value: [] });
      expect([first!.settled, second!.settled, foreign.settled]).toEqual([true, true, false]);
      expect(await q.stats()).toEqual({ pending: 1, leased: 3, done: 1, failed: 0 });
      await foreign.ack();
    });
  });

  describe(`${backend}: failures, retries and the failed list`, () => {
    it('retries after retryInSeconds, then moves the job to the failed list after maxAttempts', async () => {
      const q = await queue<string>({ maxAttempts: 2 });
      await q.put('flaky', { key: 'f' });
      const first = (await q.take())!;
      expect(await first.fail(new Error('boom 1'), { retryInSeconds: 0 })).toBe('retrying');
      const second = (await q.take())!;
      expect(second.attempt).toBe(2);
      expect(await second.fail(new Error('boom 2'))).toBe('failed');
      expect(await q.take()).toBeUndefined();
      expect(await q.stats()).toEqual({ pending: 0, leased: 0, done: 0, failed: 1 });
      const [failed] = await q.failed();
      expect(failed).toMatchObject({ id: 1, key: 'f', payload: 'flaky', attempts: 2 });
      expect(failed!.error).toMatch(/^Error: boom 2/);
      expect(failed!.failedAt).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(await q.retryFailed()).toBe(1);
      expect(await q.failed()).toEqual([]);
      const again = (await q.take())!;
      expect([again.payload, again.attempt]).toEqual(['flaky', 1]);
      await again.ack();
      expect(await q.stats()).toEqual({ pending: 0, leased: 0, done: 1, failed: 0 });
    });

    it('waits an exponential backoff before a retry by default', async () => {
      const q = await queue<string>({ backoffSeconds: 30 });
      expect([1, 2, 3].map((attempt) => q.backoffSeconds(attempt))).toEqual([30, 60, 120]);
      expect(q.backoffSeconds(30)).toBe(3600);
      await q.put('job');
      expect(await (await q.take())!.fail('a string error')).toBe('retrying');
      expect(await q.take()).toBeUndefined();
      expect((await q.stats()).pending).toBe(1);
    });

    it('limits the failed list it returns', async () => {
      const q = await queue<number>({ maxAttempts: 1 });
      await q.putMany([1, 2, 3]);
      for (const job of await q.takeMany(3)) await job.fail({ code: job.payload });
      expect((await q.failed({ limit: 2 })).map((job) => job.payload)).toEqual([1, 2]);
      expect((await q.failed())[2]!.error).toBe('{"code":3}');
    });
  });

  describe(`${backend}: next()`, () => {
    it('returns a ready job at once, and undefined after timeoutSeconds', async () => {
      const q = await queue<string>();
      expect(await q.next({ timeoutSeconds: 0.05 })).toBeUndefined();
      await q.put('ready');
      expect((await q.next({ timeoutSeconds: 0 }))!.payload).toBe('ready');
    });

    it('wakes when another queue object puts a job', async () => {
      const openOn = store();
      const worker = await openOn<string>();
      const producer = await openOn<string>();
      const waiting = worker.next({ timeoutSeconds: 30 });
      await sleep(150);
      const putAt = performance.now();
      await producer.put('arrived');
      expect((await waiting)!.payload).toBe('arrived');
      // Pub/sub (Redis) or the in-process wake-up (SQLite): well before the 1 s poll cap.
      expect(performance.now() - putAt).toBeLessThan(900);
    });

    it('wakes when a delayed job becomes ready', async () => {
      const q = await queue<string>();
      await q.put('soon', { delaySeconds: 0.3 });
      expect((await q.next({ timeoutSeconds: 30 }))!.payload).toBe('soon');
    });

    it('is cancelled by its AbortSignal with AbortError', async () => {
      const q = await queue();
      const controller = new AbortController();
      const waiting = q.next({ signal: controller.signal });
      setTimeout(() => controller.abort(new Error('enough')), 50);
      const error = await waiting.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AbortError);
      expect((error as AbortError).cause).toEqual(new Error('enough'));
      await expect(q.next({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    });
  });

  describe(`${backend}: validation and lifecycle`, () => {
    it('stores its options for later openers', async () => {
      const openOn = store();
      const first = await openOn({ leaseSeconds: 7, maxAttempts: 5 });
      expect(await first.settings()).toEqual({
        leaseSeconds: 7,
        maxAttempts: 5,
        backoffSeconds: 1,
        resultsFormat: 'default',
      });
      const second = await openOn();
      expect(await second.settings()).toEqual({
        leaseSeconds: 7,
        maxAttempts: 5,
        backoffSeconds: 1,
        resultsFormat: 'default',
      });
      expect(second.backoffSeconds(2)).toBe(2);
    });

    it('validates arguments with TypeError / RangeError', async () => {
      const q = await queue();
      await expect(q.takeMany(-1)).rejects.toThrow(RangeError);
      await expect(q.take({ leaseSeconds: -1 })).rejects.toThrow(RangeError);
      await expect(q.put(1, { delaySeconds: Number.NaN })).rejects.toThrow(TypeError);
    });

    it('rejects calls once closed', async () => {
      const q = await queue();
      await q.close();
      await q.close();
      await expect(q.put(1)).rejects.toThrow(/closed/);
      await expect(q.take()).rejects.toThrow(/closed/);
    });
  });
}
