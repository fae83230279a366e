/**
 * Fault isolation in the runner, with real processes: a mix of healthy jobs and jobs that throw,
 * exit the process, never settle, spin the CPU, run out of memory, or return a result that cannot
 * be stored. Every healthy job ends done (none charged for its neighbours' crashes), every bad one
 * ends failed with its real reason, and the run ends; the CLI's summary and `queue failed` show
 * the reasons. Also WorkQueue.releaseById, which gives a dead worker's leases back.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/cache.js';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { MAIN, ROOT } from '../cli/run-cli.js';
import type { FaultKind } from '../fixtures/runner-fault-handler.js';
import { compiledFixture, FIXTURES } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

// This run's transpiled copy when there is one: each worker and quarantine process then starts
// without the tsx loader (half a second of CPU each, and this test starts about twenty).
const HANDLER =
  compiledFixture('runner-fault-handler.ts') ?? path.join(FIXTURES, 'runner-fault-handler.ts');

function cli(args: string[], env: Record<string, string> = {}) {
  // The compiled CLI (the suite's global setup builds dist/).
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

/** What each bad job's recorded error must say. */
const REASONS: Record<Exclude<FaultKind, 'ok'>, RegExp> = {
  throw: /^Error: job \d+ was told to throw/,
  exit: /^Error: the process running job \d+ alone \(attempt 2\) died: it exited with code 1$/,
  hang: /^JobTimeoutError: job \d+ ran past its timeout of 5 s \(attempt 2/,
  spin: /^JobTimeoutError: job \d+ ran past its timeout of 5 s \(attempt 2/,
  oom: /^Error: the process running job \d+ alone \(attempt 2\) died: it ran out of memory \(JavaScript heap out of memory, (signal SIGABRT|exit code 134)\)$/,
  function: /^TypeError: invalid value: a function cannot be stored/,
};

describe('runner fault isolation', () => {
  it('finishes every healthy job and fails each bad one alone with its real reason', async () => {
    const directory = tempDir('fault-mix');
    const runsDirectory = tempDir('fault-mix-runs');
    const queue = new WorkQueue<{ kind: FaultKind }>(directory, {
      maxAttempts: 2,
      backoffSeconds: 0,
    });
    const bad: FaultKind[] = ['throw', 'exit', 'hang', 'spin', 'oom', 'function'];
    // Two healthy jobs after each bad one: they share its process when it dies.
    const kinds = bad.flatMap((kind) => [kind, 'ok', 'ok'] as FaultKind[]);
    kinds.push('ok', 'ok');
    const ids = queue.putMany(kinds.map((kind) => ({ kind }))) as number[];
    const kindOf = new Map(ids.map((id, i) => [id, kinds[i]!]));

    const result = await cli(
      [
        'work',
        HANDLER,
        '--queue',
        directory,
        '--processes',
        '2',
        '--concurrency',
        '2',
        '--once',
        // Long enough for the `oom` job to exhaust its heap on a loaded machine (it needs about
        // 0.3 s of CPU; at a load of 10 on two cores it once took more than 3 s and timed out).
        '--job-timeout',
        '5',
        '--grace-seconds',
        '1',
      ],
      {
        RUNNER_TEST_RUNS: runsDirectory,
        // A small heap, so that the `oom` job exhausts it at once (the others fit).
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=48`,
      },
    );
    expect(result.code, result.stderr).toBe(0);

    const healthy = ids.filter((id) => kindOf.get(id) === 'ok');
    expect(queue.stats()).toEqual({
      pending: 0,
      leased: 0,
      done: healthy.length,
      failed: bad.length,
    });
    const failed = queue.failed();
    expect(failed.map((job) => kindOf.get(job.id)).sort()).toEqual([...bad].sort());
    for (const job of failed) {
      expect(job.attempts).toBe(2);
      expect(job.error).toMatch(REASONS[kindOf.get(job.id) as keyof typeof REASONS]);
      expect(job.error).not.toMatch(/lease of attempt/);
    }
    // Healthy neighbours were never charged: each ran to completion (once, or again after the
    // process it shared died), and its result is stored.
    const results = queue.results;
    expect(healthy.every((id) => results.has(id))).toBe(true);
    const runs = new Cache(runsDirectory);
    expect(healthy.every((id) => Number(runs.get(id)) >= 1)).toBe(true);
    runs.close();

    // The summary names each failure and its reason.
    expect(result.stdout).toMatch(/queue drained after .*: this run/);
    expect(result.stdout).toMatch(/failed during this run:/);
    for (const job of failed)
      expect(result.stdout).toContain(`job ${job.id}, 2 attempts: ${job.error.split('\n')[0]}`);
    // Worker deaths and the kill of the spinning one were announced.
    expect(result.stderr).toMatch(
      /exited with code 1; restarting it .* without an attempt charged/,
    );
    expect(result.stderr).toMatch(/has not answered for .* after a job timeout/);

    const listed = await cli(['queue', 'failed', directory, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as { id: number; error: string }[];
    expect(rows.map((row) => row.id)).toEqual(failed.map((job) => job.id));
    for (const row of rows) expect(row.error).toMatch(REASONS[kindOf.get(row.id) as 'exit']);
    queue.close();
  });
});

describe('WorkQueue.releaseById', () => {
  it('gives back leases named by id and attempt without counting the attempt, and nothing else', () => {
    const queue = new WorkQueue<number>(tempDir('release-by-id'));
    queue.putMany([1, 2, 3, 4]);
    const [first, second, third, fourth] = queue.takeMany(4);
    third!.ack();
    // A wrong attempt names another lease: left alone.
    const released = queue.releaseById([
      first!,
      { id: second!.id, attempt: 2 },
      third!,
      { id: 99, attempt: 1 },
    ]);
    expect(released).toEqual([first!.id]);
    expect(queue.stats()).toEqual({ pending: 1, leased: 2, done: 1, failed: 0 });
    const again = queue.take()!;
    expect(again.id).toBe(first!.id);
    expect(again.attempt).toBe(1);
    // The old holder's lease is fenced off.
    expect(() => first!.ack()).toThrow(/cannot ack job/);
    fourth!.ack();
    expect(() => queue.releaseById([{ id: 1.5, attempt: 1 }])).toThrow(RangeError);
    queue.close();
  });
});
