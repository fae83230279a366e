/**
 * WorkQueue across real processes on one directory: concurrent workers complete every job exactly
 * once; a worker SIGKILLed while holding leases loses nothing (its jobs come back when the leases
 * run out); next() notices a job put by another process; Python's diskcache opens the directory.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { ackCounts, installAckAudit } from '../fixtures/queue-audit.js';
import { exited, forkFixture, message } from '../helpers/children.js';
import { findPython, PYTHON_MISSING_REASON, runPython } from '../helpers/python.js';
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

  it('gives the jobs of a SIGKILLed worker to another worker when their leases run out', async () => {
    const directory = tempDir('wq-kill');
    const queue = new WorkQueue<number>(directory);
    queue.putMany(Array.from({ length: 10 }, (_, i) => i));
    // Leases of 2 s: the checks below that the four are still leased have that much slack.
    const holder = forkFixture('queue-hold.ts', [directory, '4', '2']);
    const { taken } = await message<{ taken: number[] }>(holder);
    expect(taken).toEqual([1, 2, 3, 4]);
    holder.kill('SIGKILL');
    expect(await exited(holder)).toBe('SIGKILL');
    expect(queue.stats()).toMatchObject({ pending: 6, leased: 4 });
    const survivors = queue.takeMany(100);
    expect(survivors.map((job) => job.id)).toEqual([5, 6, 7, 8, 9, 10]);
    const recovered = await queue.next({ timeoutSeconds: 30 });
    const rest = [recovered!, ...queue.takeMany(100)];
    expect(rest.map((job) => [job.id, job.attempt])).toEqual([
      [1, 2],
      [2, 2],
      [3, 2],
      [4, 2],
    ]);
    expect(queue.ackMany([...survivors, ...rest])).toEqual([]);
    expect(queue.stats()).toEqual({ pending: 0, leased: 0, done: 10, failed: 0 });
    queue.close();
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

describe.skipIf(!findPython())(
  `WorkQueue directories and Python's diskcache (${PYTHON_MISSING_REASON})`,
  () => {
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
  },
);
