/**
 * `diskcache work` as a real process tree: SIGTERM to the runner and Ctrl-C (SIGINT to the whole
 * process group) stop it gracefully with exit 0 and no job left leased; SIGKILL of the whole tree
 * loses nothing, and running it again finishes the rest with every job acked exactly once; a bad
 * handler module fails with exit 2 before any worker starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/cache.js';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { ackCounts, installAckAudit } from '../fixtures/queue-audit.js';
import { FIXTURES } from '../helpers/children.js';
import { findPython, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';
import { MAIN, ROOT } from './run-cli.js';

const HANDLER = path.join(FIXTURES, 'queue-handler-record.ts');

interface Running {
  readonly child: ChildProcess;
  readonly done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
}

/** Starts `diskcache <args>`; `detached` puts it (and the workers it forks) in its own process group. */
function start(
  args: string[],
  options: { env?: Record<string, string>; detached?: boolean } = {},
): Running {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Polls the queue until `predicate` holds (or fails the test after 60 s). */
async function until(
  queue: WorkQueue<unknown>,
  predicate: (stats: ReturnType<WorkQueue<unknown>['stats']>) => boolean,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!predicate(queue.stats())) {
    if (Date.now() > deadline) throw new Error(`timed out; stats ${JSON.stringify(queue.stats())}`);
    await sleep(25);
  }
}

/** Pids the handler recorded (every worker that ran a job). */
function workerPids(runsDirectory: string): number[] {
  const runs = new Cache(runsDirectory);
  try {
    return [...runs.keys()]
      .filter((key): key is string => typeof key === 'string' && key.startsWith('pid:'))
      .map((key) => Number(key.slice(4)));
  } finally {
    runs.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function allGone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 100 && pids.some(isAlive); i++) await sleep(50);
  return !pids.some(isAlive);
}

function setUp(label: string, count: number, options: { sleepMs?: number } = {}) {
  const directory = tempDir(label);
  const runsDirectory = tempDir(`${label}-runs`);
  const queue = new WorkQueue<number>(directory, { leaseSeconds: 1, maxAttempts: 10 });
  installAckAudit(directory);
  const ids = queue.putMany(Array.from({ length: count }, (_, i) => i)) as number[];
  const env = { QUEUE_TEST_RUNS: runsDirectory, QUEUE_TEST_SLEEP_MS: String(options.sleepMs ?? 5) };
  return { directory, runsDirectory, queue, ids, env };
}

describe('diskcache work', () => {
  it('stops gracefully on SIGTERM: exit 0, running jobs finish, nothing stays leased', async () => {
    const { directory, runsDirectory, queue, env } = setUp('work-term', 300, { sleepMs: 50 });
    const run = start(
      ['work', HANDLER, '--queue', directory, '-p', '2', '-c', '2', '--grace-seconds', '20'],
      { env },
    );
    await until(queue, (stats) => stats.done >= 20);
    run.child.kill('SIGTERM');
    const { code, stderr } = await run.done;
    expect(code).toBe(0);
    expect(stderr).toMatch(/stopping — running jobs have 20 s to finish/);
    const stats = queue.stats();
    expect(stats.leased).toBe(0);
    expect(stats.done).toBeLessThan(300);
    expect(stats.done + stats.pending).toBe(300);
    expect(await allGone(workerPids(runsDirectory))).toBe(true);
    queue.close();
  });

  it('stops gracefully on Ctrl-C (SIGINT to the whole process group) with exit 0', async () => {
    const { directory, queue, env } = setUp('work-int', 300, { sleepMs: 50 });
    const run = start(['work', HANDLER, '--queue', directory, '-p', '2', '-c', '2'], {
      env,
      detached: true,
    });
    await until(queue, (stats) => stats.done >= 20);
    process.kill(-run.child.pid!, 'SIGINT');
    const { code } = await run.done;
    expect(code).toBe(0);
    expect(queue.stats().leased).toBe(0);
    queue.close();
  });

  it('resumes after the whole runner was SIGKILLed: nothing lost, nothing acked twice', async () => {
    const { directory, runsDirectory, queue, ids, env } = setUp('work-kill', 1500, { sleepMs: 3 });
    const first = start(['work', HANDLER, '--queue', directory, '-p', '2', '-c', '4', '--once'], {
      env,
      detached: true,
    });
    await until(queue, (stats) => stats.done >= 300);
    process.kill(-first.child.pid!, 'SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    expect(await allGone(workerPids(runsDirectory))).toBe(true);
    const interrupted = queue.stats();
    expect(interrupted.done).toBeLessThan(1500);
    const second = start(
      ['work', HANDLER, '--queue', directory, '-p', '2', '-c', '4', '--once', '--json'],
      { env },
    );
    const { code, stdout } = await second.done;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      reason: 'drained',
      stats: { pending: 0, leased: 0, done: 1500, failed: 0 },
    });
    const acks = ackCounts(directory);
    expect(acks.size).toBe(1500);
    expect([...acks.values()].filter((count) => count !== 1)).toEqual([]);
    expect(ids.every((id) => queue.results.has(id))).toBe(true);
    queue.close();
  });

  it('--pickle stores results as pickle (remembered by the queue), so Python reads dicts', async () => {
    const { directory, queue, env } = setUp('work-pickle', 12, { sleepMs: 1 });
    queue.close();
    const run = start(['work', HANDLER, '--queue', directory, '-p', '1', '--once', '--pickle'], {
      env,
    });
    expect((await run.done).code).toBe(0);
    const reopened = new WorkQueue(directory);
    expect(reopened.settings.resultsFormat).toBe('pickle');
    expect(reopened.stats().done).toBe(12);
    reopened.close();
    if (findPython() !== null) {
      const types = runPython(
        "import sys, diskcache\nprint(sorted({type(v).__name__ for v in diskcache.Index(sys.argv[1] + '/results').values()}))",
        [directory],
      );
      expect(types.trim()).toBe("['dict']");
    }
    // On a Redis locator --pickle is a usage error (its results live in Redis).
    const redis = start(['work', HANDLER, '--queue', 'redis://127.0.0.1:1/0#q', '--pickle'], {
      env,
    });
    const refused = await redis.done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--pickle applies to a directory queue/);
  });

  it('fails with exit 2 before starting workers when the handler module is missing or exports no function', async () => {
    const { directory, runsDirectory, queue, env } = setUp('work-bad', 5);
    const missing = await start(
      ['work', path.join(FIXTURES, 'queue-handler-missing.ts'), '--queue', directory, '--once'],
      { env },
    ).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/handler module not found: .*queue-handler-missing\.ts/);
    const noFunction = await start(
      ['work', path.join(FIXTURES, 'queue-handler-noexport.ts'), '--queue', directory, '--once'],
      { env },
    ).done;
    expect(noFunction.code).toBe(2);
    expect(noFunction.stderr).toMatch(/exports no function/);
    expect(workerPids(runsDirectory)).toEqual([]);
    expect(queue.stats().pending).toBe(5);
    queue.close();
  });

  it('refuses a directory that is not a work queue (exit 5) and prints progress lines off a terminal', async () => {
    const missing = await start([
      'work',
      HANDLER,
      '--queue',
      path.join(tempDir('work-none'), 'nope'),
      '--once',
    ]).done;
    expect(missing.code).toBe(5);
    const { directory, queue, env } = setUp('work-progress', 200, { sleepMs: 10 });
    const run = await start(
      [
        'work',
        HANDLER,
        '--queue',
        directory,
        '-p',
        '1',
        '-c',
        '2',
        '--once',
        '--progress-interval',
        '0.2',
      ],
      { env },
    ).done;
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /^\[0:\d\d\] \d+ done · 0 failed · \d+ pending · \d+ running · [\d.,]+\/s · ETA/m,
    );
    expect(run.stderr.trimEnd().split('\n').at(-1)).toMatch(
      /200 done · 0 failed · 0 pending · 0 running/,
    );
    expect(run.stdout).toMatch(
      /^queue drained after 0:\d\d: this run 200 done, 0 failed, 0 to retry; queue: 0 pending, 0 leased, 200 done, 0 failed/,
    );
    queue.close();
  });
});
