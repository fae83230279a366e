/**
 * WorkQueue across real processes on one directory: concurrent workers complete every job exactly
 * once; a worker SIGKILLed while holding leases loses nothing (its jobs come back at once, since
 * its process is gone; those of a stalled worker when the leases run out); next() notices a job put by another process; Python's diskcache opens the directory.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { holderOf, holderStatus, parseHolder } from '../../src/collections/lease-holder.js';
import { type Job, WorkQueue } from '../../src/collections/work-queue.js';
import { ackCounts, installAckAudit } from '../fixtures/queue-audit.js';
import { exited, forkFixture, message } from '../helpers/children.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

describe('WorkQueue across processes', () => {
  it.each([
    ['take/ack', 1],
    ['takeMany/ackMany', 25],
  ])('four workers using %s complete every job exactly once', async (_name, batch) => {
    const directory = tempDir('wq-procs');
    const queue = new WorkQueue<number>(directory);
    installAckAudit(directory);
    queue.putMany(Array.from({ length: 2000 }, (_, i) => i));
    const children = Array.from({ length: 4 }, () =>
      forkFixture('queue-drain.ts', [directory, String(batch)]),
    );
    const reports = await Promise.all(children.map((child) => message<{ acked: number }>(child)));
    expect(await Promise.all(children.map(exited))).toEqual([0, 0, 0, 0]);
    expect(reports.reduce((total, report) => total + report.acked, 0)).toBe(2000);
    const acks = ackCounts(directory);
    expect(acks.size).toBe(2000);
    expect([...acks.values()].every((count) => count === 1)).toBe(true);
    expect(queue.stats()).toEqual({ pending: 0, leased: 0, done: 2000, failed: 0 });
    const results = queue.results;
    expect(results.size).toBe(2000);
    expect((results.get(1234) as { payload: number }).payload).toBe(1233);
    queue.close();
  });

  it('takes back at once, long before the lease runs out, the jobs of a SIGKILLed worker', async () => {
    const directory = tempDir('wq-kill');
    const queue = new WorkQueue<number>(directory);
    queue.putMany(Array.from({ length: 10 }, (_, i) => i));
    // Leases of 120 s: anything that waited for them would time the test out.
    const holder = forkFixture('queue-hold.ts', [directory, '4', '120']);
    const first = await message<{ taken: number[] }>(holder);
    expect(first.taken).toEqual([1, 2, 3, 4]);
    expect(queue.leaseHolders()).toEqual([
      { pid: holder.pid, status: 'alive', jobs: 4, leaseEndsAt: expect.any(Number) },
    ]);
    holder.kill('SIGKILL');
    expect(await exited(holder)).toBe('SIGKILL');
    expect(queue.leaseHolders()).toMatchObject([{ pid: holder.pid, status: 'dead', jobs: 4 }]);
    // A fresh process takes everything, the dead worker's jobs as their second attempt.
    const started = performance.now();
    const taker = forkFixture('queue-hold.ts', [directory, '100', '120']);
    const second = await message<{ taken: number[]; attempts: number[] }>(taker);
    const seconds = (performance.now() - started) / 1000;
    expect(second.taken).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(second.attempts).toEqual([2, 2, 2, 2, 1, 1, 1, 1, 1, 1]);
    expect(seconds).toBeLessThan(60); // a process start under load; the leases had 120 s
    taker.kill('SIGKILL');
    expect(await exited(taker)).toBe('SIGKILL');
    // And this process (not the holder, whose queue object was opened before) as well.
    const jobs = queue.takeMany(100);
    expect(jobs.map((job) => job.attempt)).toEqual([3, 3, 3, 3, 2, 2, 2, 2, 2, 2]);
    expect(queue.ackMany(jobs)).toEqual([]);
    expect(queue.stats()).toEqual({ pending: 0, leased: 0, done: 10, failed: 0 });
    queue.close();
  });

  it('a dead holder on its last attempt sends the job to the failed list, saying so', async () => {
    const directory = tempDir('wq-kill-last');
    const queue = new WorkQueue<number>(directory, { maxAttempts: 1 });
    queue.put(1);
    const holder = forkFixture('queue-hold.ts', [directory, '1', '120']);
    await message(holder);
    holder.kill('SIGKILL');
    await exited(holder);
    expect(queue.take()).toBeUndefined();
    expect(queue.failed()).toMatchObject([
      {
        id: 1,
        attempts: 1,
        error: `the lease of attempt 1 was held by process ${holder.pid}, which died`,
      },
    ]);
    queue.close();
  });

  it('waits for the lease of a holder that still runs, or whose supervisor still runs', async () => {
    const directory = tempDir('wq-stalled');
    const queue = new WorkQueue<number>(directory);
    queue.putMany(Array.from({ length: 10 }, (_, i) => i));
    // A stalled worker (alive, leases of 2 s) and a dead one supervised by this process.
    const stalled = forkFixture('queue-hold.ts', [directory, '2', '2']);
    expect((await message<{ taken: number[] }>(stalled)).taken).toEqual([1, 2]);
    const supervised = forkFixture('queue-hold.ts', [directory, '2', '2', String(process.pid)]);
    expect((await message<{ taken: number[] }>(supervised)).taken).toEqual([3, 4]);
    supervised.kill('SIGKILL');
    await exited(supervised);
    const holders = queue.leaseHolders().sort((a, b) => a.pid! - b.pid!);
    expect(holders.map(({ pid, status, jobs }) => ({ pid, status, jobs }))).toEqual(
      [
        { pid: stalled.pid, status: 'alive', jobs: 2 },
        { pid: supervised.pid, status: 'supervised', jobs: 2 },
      ].sort((a, b) => a.pid! - b.pid!),
    );
    const survivors = queue.takeMany(100);
    expect(survivors.map((job) => job.id)).toEqual([5, 6, 7, 8, 9, 10]);
    // Both come back when their leases run out, as their second attempt.
    const recovered: Job<number>[] = [];
    while (recovered.length < 4) recovered.push((await queue.next({ timeoutSeconds: 60 }))!);
    expect(recovered.map((job) => [job.id, job.attempt]).sort()).toEqual([
      [1, 2],
      [2, 2],
      [3, 2],
      [4, 2],
    ]);
    stalled.kill('SIGKILL');
    await exited(stalled);
    expect(queue.ackMany([...survivors, ...recovered])).toEqual([]);
    expect(queue.stats()).toEqual({ pending: 0, leased: 0, done: 10, failed: 0 });
    queue.close();
  });

  it('tells a reused pid from the holder by its start time, and another machine from this one', () => {
    const self = parseHolder(holderOf()!)!;
    expect(self.pid).toBe(process.pid);
    expect(holderStatus(self)).toBe('alive');
    // This pid, but a process started at another time: the holder is gone.
    expect(holderStatus({ ...self, start: String(Number(self.start) + 1) })).toBe('dead');
    expect(holderStatus({ ...self, machine: `${self.machine}x` })).toBe('other-machine');
  });

  it('next() notices a job put by another process', async () => {
    const directory = tempDir('wq-next');
    const queue = new WorkQueue<string>(directory);
    const producer = forkFixture('queue-put-later.ts', [directory, '300', 'from another process']);
    await message(producer);
    const job = await queue.next({ timeoutSeconds: 30 });
    expect(job?.payload).toBe('from another process');
    expect(await exited(producer)).toBe(0);
    queue.close();
  });
});

describe.skipIf(!findPython())(pythonTitle(`WorkQueue directories and Python's diskcache`), () => {
  it('opens as a diskcache Cache, and the results as a diskcache Index', () => {
    const directory = tempDir('wq-python');
    const queue = new WorkQueue<string>(directory);
    queue.put('a', { key: 'photo.jpg' });
    queue.put('b');
    const [first, second] = queue.takeMany(2);
    first!.ack('sha256:abc');
    second!.ack(42);
    queue.close();
    const out = runPython(
      `import sys, diskcache
c = diskcache.Cache(sys.argv[1]); print(len(c), c.eviction_policy); c.close()
i = diskcache.Index(sys.argv[2]); print(list(i.items()))`,
      [directory, path.join(directory, 'results')],
    );
    expect(out.trim().split('\n')).toEqual(['0 none', "[('photo.jpg', 'sha256:abc'), (2, 42)]"]);
  });
});
