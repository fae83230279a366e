/**
 * runWorkers with real child processes: SIGKILLed children are restarted and every job is acked
 * exactly once (counted by a trigger in the queue's own transactions); handlers that throw end in
 * the failed list; leases are extended while a job runs longer than its lease; a handler module
 * that is missing or exports no function is refused before anything is forked.
 */
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/cache.js';
import { HandlerModuleError } from '../../src/cache/errors.js';
import { WorkQueue } from '../../src/collections/work-queue.js';
import type { RunnerEvent } from '../../src/runner/run-workers.js';
import { runWorkers } from '../../src/runner/run-workers.js';
import { WORKER_TRIM_THRESHOLD, workerEnvironment } from '../../src/runner/worker-environment.js';
import { ackCounts, installAckAudit } from '../fixtures/queue-audit.js';
import { compiledFixture, FIXTURES } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

// This run's transpiled copy (plain node, no tsx loader in each worker: half a second of CPU per
// process, and these tests start dozens); the TypeScript file itself where there is none. The
// CLI tests (test/cli/work-command.test.ts) run the TypeScript handler through tsx.
const HANDLER =
  compiledFixture('queue-handler-record.ts') ?? path.join(FIXTURES, 'queue-handler-record.ts');

/** Runs counted by the handler, per job id. */
function runsPerJob(runsDirectory: string, ids: number[]): number[] {
  const runs = new Cache(runsDirectory);
  try {
    return ids.map((id) => Number(runs.get(id) ?? 0));
  } finally {
    runs.close();
  }
}

let saved: Record<string, string | undefined>;
beforeEach(() => {
  saved = { runs: process.env.QUEUE_TEST_RUNS, sleep: process.env.QUEUE_TEST_SLEEP_MS };
});
afterEach(() => {
  for (const [name, value] of [
    ['QUEUE_TEST_RUNS', saved.runs],
    ['QUEUE_TEST_SLEEP_MS', saved.sleep],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('runWorkers', () => {
  // Four minutes rather than the default two: a loaded machine runs this one (thousands of
  // writes from four processes, three restarts) far slower than an idle one; it asserts no time.
  it('acks each of 3,000 jobs exactly once while a random child is SIGKILLed three times', {
    timeout: 240_000,
  }, async () => {
    const directory = tempDir('runner-crash');
    const runsDirectory = tempDir('runner-runs');
    process.env.QUEUE_TEST_RUNS = runsDirectory;
    process.env.QUEUE_TEST_SLEEP_MS = '4';
    // A killed child's jobs come back at once, without an attempt charged (the parent knows its
    // leases), and the ones it was running each run alone in a quarantine process: the test
    // takes longer than the jobs. Leases of 1 s and maxAttempts 10 are a safety net.
    const queue = new WorkQueue<number>(directory, { leaseSeconds: 1, maxAttempts: 10 });
    installAckAudit(directory);
    const ids = queue.putMany(Array.from({ length: 3000 }, (_, i) => i)) as number[];
    const alive = new Set<number>();
    const killed: number[] = [];
    const events: RunnerEvent[] = [];
    const onEvent = (event: RunnerEvent) => {
      events.push(event);
      if (event.type === 'spawn') alive.add(event.pid);
      if (event.type === 'exit') alive.delete(event.pid);
    };
    const killer = setInterval(() => {
      const { done } = queue.stats();
      // A kill after each 400 jobs done, once all four children are up again: the restarts
      // leave the others time to work, so the three kills come well before the 3,000th job.
      if (killed.length >= 3 || done < (killed.length + 1) * 400 || alive.size < 4) return;
      const victims = [...alive];
      const pid = victims[Math.floor(Math.random() * victims.length)]!;
      killed.push(pid);
      alive.delete(pid);
      process.kill(pid, 'SIGKILL');
    }, 20);
    try {
      const summary = await runWorkers({
        queue,
        handler: HANDLER,
        processes: 4,
        concurrency: 4,
        once: true,
        onEvent,
      });
      expect(summary.reason).toBe('drained');
      expect(summary.restarts).toBeGreaterThanOrEqual(3);
    } finally {
      clearInterval(killer);
    }
    expect(killed).toHaveLength(3);
    const exits = events.filter((event) => event.type === 'exit' && killed.includes(event.pid));
    expect(exits.map((event) => (event as { signal: string }).signal)).toEqual([
      'SIGKILL',
      'SIGKILL',
      'SIGKILL',
    ]);
    expect(queue.stats()).toEqual({ pending: 0, leased: 0, done: 3000, failed: 0 });
    const acks = ackCounts(directory);
    expect(acks.size).toBe(3000);
    const doubles = [...acks].filter(([, count]) => count !== 1);
    expect(doubles).toEqual([]);
    const results = queue.results;
    expect(ids.every((id) => results.has(id))).toBe(true);
    // At-least-once: every job ran; the killed children's jobs may have run twice.
    expect(runsPerJob(runsDirectory, ids).every((runs) => runs >= 1)).toBe(true);
    queue.close();
  });

  it('moves jobs whose handler throws to the failed list after maxAttempts', async () => {
    const directory = tempDir('runner-throws');
    const queue = new WorkQueue<{ fail: boolean }>(directory, {
      maxAttempts: 2,
      backoffSeconds: 0,
    });
    queue.putMany(Array.from({ length: 20 }, (_, i) => ({ fail: i % 2 === 0 })));
    const summary = await runWorkers({
      queue,
      handler: HANDLER,
      processes: 2,
      concurrency: 2,
      once: true,
    });
    expect(summary.stats).toEqual({ pending: 0, leased: 0, done: 10, failed: 10 });
    expect(summary.counts).toMatchObject({ done: 10, failed: 10, retried: 10, lost: 0 });
    const failed = queue.failed();
    expect(failed.map((job) => job.attempts)).toEqual(new Array(10).fill(2));
    expect(failed[0]!.error).toMatch(/^Error: job 1 was told to fail/);
    expect(queue.results.size).toBe(10);
    queue.close();
  });

  it('extends the lease of a job that runs longer than its lease, so no other worker takes it', async () => {
    const directory = tempDir('runner-heartbeat');
    const runsDirectory = tempDir('runner-runs');
    process.env.QUEUE_TEST_RUNS = runsDirectory;
    const queue = new WorkQueue(directory);
    const [id] = queue.putMany([{ sleepMs: 3000 }]) as number[];
    // Heartbeats every 2/3 s: a worker would have to stall 4/3 s for its lease to lapse.
    const summary = await runWorkers({
      queue,
      handler: HANDLER,
      processes: 2,
      leaseSeconds: 2,
      once: true,
    });
    expect(summary.stats.done).toBe(1);
    expect(summary.counts.lost).toBe(0);
    expect(runsPerJob(runsDirectory, [id!])).toEqual([1]);
    queue.close();
  });

  it('returns at once with once on a drained queue, and stops gracefully on its signal', async () => {
    const directory = tempDir('runner-signal');
    const queue = new WorkQueue(directory);
    const spawned: number[] = [];
    const onEvent = (event: RunnerEvent) => event.type === 'spawn' && spawned.push(event.pid);
    const empty = await runWorkers({ queue, handler: HANDLER, processes: 2, once: true, onEvent });
    expect(empty.reason).toBe('drained');
    expect(spawned).toEqual([]);
    queue.putMany(Array.from({ length: 40 }, () => ({ sleepMs: 100 })));
    const controller = new AbortController();
    const progress: number[] = [];
    const run = runWorkers({
      queue,
      handler: HANDLER,
      processes: 2,
      concurrency: 2,
      signal: controller.signal,
      progressIntervalSeconds: 0.1,
      onEvent,
      onProgress: (p) => {
        progress.push(p.done);
        if (p.done >= 4) controller.abort();
      },
    });
    const summary = await run;
    expect(summary.reason).toBe('stopped');
    expect(spawned).toHaveLength(2);
    expect(summary.stats.leased).toBe(0);
    expect(summary.stats.done).toBeLessThan(40);
    expect(summary.stats.done + summary.stats.pending).toBe(40);
    expect(progress.at(-1)).toBe(summary.stats.done);
    queue.close();
  });

  it("stores each result with the tag of the handler module's resultTag export", async () => {
    const directory = tempDir('runner-tags');
    const queue = new WorkQueue<unknown>(directory);
    queue.putMany([1, 2, 3, 4, 'bad', 'throw', 'plain'], { key: (payload) => String(payload) });
    // The children report the two tagger failures on stderr.
    const summary = await runWorkers({
      queue,
      handler: path.join(FIXTURES, 'runner-tag-handler.mjs'),
      processes: 1,
      concurrency: 4,
      once: true,
    });
    expect(summary.stats).toMatchObject({ done: 7, failed: 0, pending: 0 });
    expect(queue.results.get('bad')).toBe('bad');
    expect(queue.results.cache.tagCounts()).toEqual(
      new Map<unknown, number>([
        [null, 3],
        ['even', 2],
        ['odd', 2],
      ]),
    );
    queue.close();
    await expect(
      runWorkers({ queue: directory, handler: path.join(FIXTURES, 'runner-bad-tag-handler.mjs') }),
    ).rejects.toThrow(/exports a resultTag that is not a function/);
  });

  it("gives its workers glibc's trim threshold, unless the parent's environment sets one", async () => {
    const run = async (key: string) => {
      const directory = tempDir('runner-env');
      const queue = new WorkQueue<string>(directory);
      queue.put(key);
      await runWorkers({
        queue,
        handler: path.join(FIXTURES, 'runner-env-handler.mjs'),
        processes: 1,
        once: true,
      });
      const [result] = [...queue.results.values()];
      queue.close();
      return result as { trimThreshold: string | null };
    };
    const before = process.env.MALLOC_TRIM_THRESHOLD_;
    try {
      delete process.env.MALLOC_TRIM_THRESHOLD_;
      const given = await run('default');
      if (process.platform === 'linux') {
        expect(given.trimThreshold).toBe(String(WORKER_TRIM_THRESHOLD));
      } else expect(given.trimThreshold).toBeNull();
      process.env.MALLOC_TRIM_THRESHOLD_ = '1234567';
      expect((await run('user')).trimThreshold).toBe('1234567');
    } finally {
      if (before === undefined) delete process.env.MALLOC_TRIM_THRESHOLD_;
      else process.env.MALLOC_TRIM_THRESHOLD_ = before;
    }
    // The rule itself: a trim threshold in GLIBC_TUNABLES counts as set; Linux only.
    const tunables = { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1048576', PATH: '/bin' };
    expect(workerEnvironment(tunables, 'linux')).toBe(tunables);
    expect(workerEnvironment({ PATH: '/bin' }, 'linux')).toEqual({
      PATH: '/bin',
      MALLOC_TRIM_THRESHOLD_: String(WORKER_TRIM_THRESHOLD),
    });
    expect(workerEnvironment({ PATH: '/bin' }, 'darwin')).toEqual({ PATH: '/bin' });
    expect(
      workerEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, 'linux')
        .MALLOC_TRIM_THRESHOLD_,
    ).toBe(String(WORKER_TRIM_THRESHOLD));
  });

  it('refuses a missing handler module, or one that exports no function, before forking', async () => {
    const directory = tempDir('runner-bad');
    const spawned: RunnerEvent[] = [];
    const onEvent = (event: RunnerEvent) => spawned.push(event);
    const missing = runWorkers({
      queue: directory,
      handler: path.join(FIXTURES, 'queue-handler-missing.ts'),
      processes: 2,
      onEvent,
    });
    await expect(missing).rejects.toBeInstanceOf(HandlerModuleError);
    await expect(missing).rejects.toThrow(/handler module not found: .*queue-handler-missing\.ts/);
    const noFunction = runWorkers({
      queue: directory,
      handler: path.join(FIXTURES, 'queue-handler-noexport.ts'),
      processes: 2,
      onEvent,
    });
    await expect(noFunction).rejects.toThrow(
      /exports no function: export a default function .*its exports: .*answer/,
    );
    expect(spawned).toEqual([]);
  });

  it('validates its options', async () => {
    const directory = tempDir('runner-options');
    await expect(runWorkers({ queue: directory, handler: HANDLER, processes: 0 })).rejects.toThrow(
      /processes must be an integer >= 1, got 0/,
    );
    await expect(
      runWorkers({ queue: directory, handler: HANDLER, concurrency: 1.5 }),
    ).rejects.toThrow(RangeError);
    await expect(
      runWorkers({ queue: directory, handler: HANDLER, leaseSeconds: -1 }),
    ).rejects.toThrow(RangeError);
    await expect(runWorkers({ queue: 42 as unknown as string, handler: HANDLER })).rejects.toThrow(
      TypeError,
    );
    await expect(
      runWorkers({ queue: directory, handler: HANDLER, nodeOptions: ['max-old-space-size=9'] }),
    ).rejects.toThrow(/nodeOptions: "max-old-space-size=9" is not a node option/);
    await expect(
      runWorkers({ queue: directory, handler: HANDLER, nodeOptions: '--inspect' as never }),
    ).rejects.toThrow(TypeError);
    await expect(
      runWorkers({ queue: directory, handler: HANDLER, holdSlotUntilAcked: 'yes' as never }),
    ).rejects.toThrow(/holdSlotUntilAcked/);
  });

  it('starts its worker processes with nodeOptions', async () => {
    const directory = tempDir('runner-node-options');
    const queue = new WorkQueue<number>(directory);
    const ids = queue.putMany([1, 2]) as number[];
    const run = await runWorkers({
      queue: directory,
      handler: path.join(FIXTURES, 'runner-exec-argv-handler.mjs'),
      processes: 1,
      once: true,
      nodeOptions: ['--max-old-space-size=123', '--max-semi-space-size=2'],
    });
    expect(run.counts.done).toBe(2);
    // After the runner's own (tsx's loader when the child entry is TypeScript, as under vitest).
    for (const id of ids)
      expect((queue.results.get(id) as string[]).slice(-2)).toEqual([
        '--max-old-space-size=123',
        '--max-semi-space-size=2',
      ]);
    queue.close();
  });
});
