/**
 * The runner on a queue locator, with real processes. Two runners started as separate process
 * groups on one queue (two "machines"), one SIGKILLed whole mid-run and a third joining late:
 * every job ends done and is acked exactly once (counted where the ack is written: an SQLite
 * trigger for a directory; Redis's append-only file for Redis), and each stored result comes from
 * a run the handler logged. On Redis also: `runWorkers({queue: 'redis://…#name'})`, the server
 * killed and restarted mid-run (AOF on), and the CLI's `work --queue` and `queue …` commands on a
 * Redis locator, a password in it never printed.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AsyncWorkQueue } from '../../src/collections/async-work-queue.js';
import { openQueue } from '../../src/collections/open-queue.js';
import { runWorkers } from '../../src/runner/run-workers.js';
import { ROOT, runCli } from '../cli/run-cli.js';
import { ackCounts, installAckAudit } from '../fixtures/queue-audit.js';
import { FIXTURES } from '../helpers/children.js';
import {
  type Finished,
  killGroup,
  killStartedGroups,
  startCliGroup,
} from '../helpers/process-group.js';
import { findRedisServer, RedisServer, redisTitle } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/tmp.js';

const HANDLER = path.join(FIXTURES, 'runner-append-handler.mjs');
const QUEUE_OPTIONS = { leaseSeconds: 2, maxAttempts: 10, backoffSeconds: 0 };

/** `diskcache work` in a process group of its own, as on another machine. */
function startRunner(locator: string, runsDirectory: string) {
  return startCliGroup(['work', HANDLER, '--queue', locator, '-p', '2', '-c', '4', '--once'], {
    RUNNER_TEST_RUNS: runsDirectory,
    RUNNER_TEST_SLEEP_MS: '5',
  });
}

afterEach(killStartedGroups);

/** The handler's runs: job key → run tags, from the per-process logs. */
function readRuns(runsDirectory: string): Map<string, string[]> {
  const runs = new Map<string, string[]>();
  for (const name of fs.readdirSync(runsDirectory)) {
    for (const line of fs.readFileSync(path.join(runsDirectory, name), 'utf8').split('\n')) {
      if (line === '') continue;
      const [key, tag] = line.split(' ') as [string, string];
      runs.set(key, [...(runs.get(key) ?? []), tag]);
    }
  }
  return runs;
}

async function untilRuns(runsDirectory: string, count: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    let total = 0;
    for (const tags of readRuns(runsDirectory).values()) total += tags.length;
    if (total >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${total} runs after 120 s`);
    await sleep(50);
  }
}

const keyOf = (i: number) => `job-${i}`;

async function fill(queue: AsyncWorkQueue<number>, jobs: number): Promise<void> {
  await queue.putMany(
    Array.from({ length: jobs }, (_, i) => i),
    { key: (i) => keyOf(i) },
  );
}

/** A new queue at `locator` holding `jobs` keyed jobs, and an empty directory for the run logs. */
async function filled(locator: string, jobs: number, label: string) {
  const queue = await openQueue<number>(locator, QUEUE_OPTIONS);
  await fill(queue, jobs);
  return { queue, runsDirectory: tempDir(label) };
}

/** Every job done and its result one of its logged runs; returns the runs per key. */
async function expectEveryJobDone(
  queue: AsyncWorkQueue<number>,
  jobs: number,
  runsDirectory: string,
): Promise<Map<string, string[]>> {
  expect(await queue.stats()).toEqual({ pending: 0, leased: 0, done: jobs, failed: 0 });
  const runs = readRuns(runsDirectory);
  for (let i = 0; i < jobs; i++) {
    const tags = runs.get(keyOf(i)) ?? [];
    expect(tags.length, keyOf(i)).toBeGreaterThanOrEqual(1);
    expect(tags).toContain(await queue.results.get(keyOf(i)));
  }
  expect(await queue.results.size()).toBe(jobs);
  return runs;
}

/** The commands of a Redis append-only file (RESP arrays), as lists of arguments. */
function* aofCommands(file: string): Generator<string[]> {
  const text = fs.readFileSync(file, 'latin1');
  let at = 0;
  const line = () => {
    const end = text.indexOf('\r\n', at);
    const value = text.slice(at, end);
    at = end + 2;
    return value;
  };
  while (at < text.length) {
    const head = line();
    if (!head.startsWith('*')) continue;
    const args: string[] = [];
    for (let n = Number(head.slice(1)); n > 0; n--) {
      const length = Number(line().slice(1));
      args.push(text.slice(at, at + length));
      at += length + 2;
    }
    yield args;
  }
}

/**
 * How many times each job was acked, from the server's own record: Redis logs a script's writes
 * to the AOF, and an ack is the ZADD of the job to the queue's `done` set.
 */
function redisAcks(server: RedisServer, name: string): Map<number, number> {
  const directory = path.join(server.directory, 'appendonlydir');
  const done = `dq:{${name}}:done`;
  const acks = new Map<number, number>();
  for (const file of fs.readdirSync(directory).filter((f) => f.endsWith('.incr.aof'))) {
    for (const args of aofCommands(path.join(directory, file))) {
      if (args[0]?.toUpperCase() !== 'ZADD' || args[1] !== done) continue;
      for (let i = 3; i < args.length; i += 2) {
        const id = Number(args[i]);
        acks.set(id, (acks.get(id) ?? 0) + 1);
      }
    }
  }
  return acks;
}

function expectAckedOnce(acks: Map<number, number>, jobs: number): void {
  expect(acks.size).toBe(jobs);
  expect([...acks.values()].filter((count) => count !== 1)).toEqual([]);
}

/**
 * Two runners on one queue as two process groups; the first is SIGKILLed whole after `killAfter`
 * runs, then a third one starts. Both survivors end with the queue drained (`--once` waits for
 * the other machine's leased jobs too).
 */
async function twoMachines(locator: string, runsDirectory: string, killAfter: number) {
  const a = startRunner(locator, runsDirectory);
  const b = startRunner(locator, runsDirectory);
  await untilRuns(runsDirectory, killAfter);
  killGroup(a.child);
  expect((await a.finished).signal).toBe('SIGKILL');
  const c = startRunner(locator, runsDirectory);
  for (const { finished } of [b, c]) {
    const result = await finished;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/queue drained after .*queue: 0 pending, 0 leased/);
  }
}

const JOBS = 1200;

describe('runners on one directory as separate process groups', () => {
  it('one SIGKILLed mid-run, a third joining late: every job done and acked once', {
    timeout: 300_000,
  }, async () => {
    const directory = tempDir('machines-dir');
    const { queue, runsDirectory } = await filled(directory, JOBS, 'machines-dir-runs');
    installAckAudit(directory);
    await twoMachines(directory, runsDirectory, 300);
    await expectEveryJobDone(queue, JOBS, runsDirectory);
    expectAckedOnce(ackCounts(directory), JOBS);
    await queue.close();
  });
});

describe.skipIf(!findRedisServer())(redisTitle('the runner on a Redis queue'), () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({ appendonly: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runWorkers({queue: locator}) drains a Redis queue, each job acked once', {
    timeout: 180_000,
  }, async () => {
    const locator = server.locator('run');
    const { queue, runsDirectory } = await filled(locator, 500, 'redis-run-runs');
    process.env.RUNNER_TEST_RUNS = runsDirectory;
    const progress: number[] = [];
    try {
      const summary = await runWorkers({
        queue: locator,
        handler: HANDLER,
        processes: 2,
        concurrency: 8,
        once: true,
        progressIntervalSeconds: 0.2,
        onProgress: (snapshot) => progress.push(snapshot.done),
      });
      expect(summary.reason).toBe('drained');
      expect(summary.stats).toEqual({ pending: 0, leased: 0, done: 500, failed: 0 });
      expect(summary.counts.done).toBe(500);
      // Progress shows the queue's own counts: the last snapshot has them all.
      expect(progress.at(-1)).toBe(500);
    } finally {
      delete process.env.RUNNER_TEST_RUNS;
    }
    const runs = await expectEveryJobDone(queue, 500, runsDirectory);
    expect([...runs.values()].every((tags) => tags.length === 1)).toBe(true);
    expectAckedOnce(redisAcks(server, 'run'), 500);
    await queue.close();
  });

  it('a worker on a Redis queue starts without loading the SQLite engine', {
    timeout: 60_000,
  }, async () => {
    const locator = server.locator('lean-start');
    const queue = await openQueue(locator);
    await queue.put('which modules?', { key: 'report' });
    const summary = await runWorkers({
      queue: locator,
      handler: path.join(FIXTURES, 'runner-loaded-modules-handler.mjs'),
      processes: 1,
      once: true,
    });
    expect(summary.stats).toMatchObject({ done: 1, failed: 0 });
    expect(await queue.results.get('report')).toEqual({ sqlite: false, ioredis: true });
    await queue.close();
  });

  it('two runners as process groups, one SIGKILLed mid-run, a third joining late: every job done, acked once', {
    timeout: 300_000,
  }, async () => {
    const locator = server.locator('machines');
    const { queue, runsDirectory } = await filled(locator, JOBS, 'redis-machines-runs');
    await twoMachines(locator, runsDirectory, 300);
    await expectEveryJobDone(queue, JOBS, runsDirectory);
    expectAckedOnce(redisAcks(server, 'machines'), JOBS);
    await queue.close();
  });

  it('runners reconnect and finish when Redis is killed and restarted mid-run (AOF on)', {
    timeout: 300_000,
  }, async () => {
    const locator = server.locator('restart');
    const { queue, runsDirectory } = await filled(locator, JOBS, 'redis-restart-runs');
    await sleep(1100); // the puts reach the disk (appendfsync everysec)
    const a = startRunner(locator, runsDirectory);
    const b = startRunner(locator, runsDirectory);
    await untilRuns(runsDirectory, 300);
    await server.kill();
    await sleep(500);
    await server.start();
    for (const { finished } of [a, b]) {
      const result = await finished;
      expect(result.code, result.stderr).toBe(0);
    }
    await expectEveryJobDone(queue, JOBS, runsDirectory);
    expectAckedOnce(redisAcks(server, 'restart'), JOBS);
    await queue.close();
  });

  it('examples/queue-anywhere.ts started twice on one Redis locator: both share the work and end', {
    timeout: 180_000,
  }, async () => {
    const locator = server.locator('anywhere');
    const run = () =>
      new Promise<Finished>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', path.join(ROOT, 'examples', 'queue-anywhere.ts'), locator],
          { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
        child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
    const results = await Promise.all([run(), run()]);
    let done = 0;
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      done += Number(/this runner did (\d+) jobs/.exec(result.stdout)?.[1]);
      expect(result.stdout).toContain('jumps → 5');
    }
    expect(done).toBe(8); // the eight distinct words, each run once across both
  });

  it('reading a Redis queue that does not exist exits 5 and creates nothing, as for a directory', {
    timeout: 120_000,
  }, async () => {
    const admin = new Redis(server.port, '127.0.0.1');
    try {
      const locator = `redis://:never-shown@127.0.0.1:${server.port}/0#never-made`;
      const shown = `redis://:***@127.0.0.1:${server.port}/0#never-made`;
      const handler = path.join(FIXTURES, 'runner-append-handler.mjs');
      for (const args of [
        ['queue', 'stats', locator],
        ['queue', 'failed', locator],
        ['queue', 'retry-failed', locator],
        ['-d', locator, 'queue', 'stats'],
        ['work', handler, '--queue', locator, '-p', '1', '--once'],
      ]) {
        const result = await runCli(args);
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(5);
        // (ioredis may add a warning line: this server's default user takes any password.)
        expect(result.stderr).toContain(
          `diskcache: work queue ${shown} does not exist (no dq:{never-made}:settings in Redis; nothing was created)\n`,
        );
        expect(result.stderr).not.toContain('never-shown');
        expect(result.stdout).toBe('');
      }
      const json = await runCli(['--json', 'queue', 'stats', locator]);
      expect(json.code).toBe(5);
      expect(JSON.parse(json.stderr.trimEnd().split('\n').at(-1)!)).toMatchObject({
        error: { exitCode: 5, kind: 'bad-directory' },
      });
      expect(await admin.keys('dq:{never-made}:*')).toEqual([]);
      // The same as a directory that holds no queue: exit 5, nothing made.
      const missing = path.join(tempDir('redis-cli-missing'), 'never-made');
      const directory = await runCli(['queue', 'stats', missing]);
      expect(directory.code).toBe(5);
      expect(fs.existsSync(missing)).toBe(false);
      // Once the queue exists (put creates it), reading it works, empty or not.
      expect((await runCli(['queue', 'put', locator, 'a'])).code).toBe(0);
      const stats = await runCli(['--json', 'queue', 'stats', locator]);
      expect(stats.code, stats.stderr).toBe(0);
      expect(JSON.parse(stats.stdout)).toMatchObject({ pending: 1, leased: 0, done: 0 });
      expect((await runCli(['queue', 'failed', locator])).stdout).toBe('no failed jobs\n');
    } finally {
      await admin.quit();
    }
  });

  it('diskcache queue put|stats|failed|retry-failed take a Redis locator, never printing its password', {
    timeout: 120_000,
  }, async () => {
    const admin = new Redis(server.port, '127.0.0.1');
    await admin.config('SET', 'requirepass', 's3cret-pw');
    try {
      const locator = `redis://:s3cret-pw@127.0.0.1:${server.port}/0#cli`;
      const put = await runCli(['queue', 'put', locator, 'a', 'b', '--unique']);
      expect(put.stdout).toBe('queued 2 jobs\n');
      expect((await runCli(['queue', 'put', locator, 'a', '--unique'])).stdout).toMatch(
        /queued 0 jobs \(1 already queued/,
      );
      const stats = await runCli(['queue', 'stats', locator]);
      expect(stats.code, stats.stderr).toBe(0);
      expect(stats.stdout).toMatch(/pending\s+2/);
      expect(stats.stdout).toContain(`redis://:***@127.0.0.1:${server.port}/0#cli`);
      const json = JSON.parse((await runCli(['--json', 'queue', 'stats', locator])).stdout);
      expect(json).toMatchObject({ pending: 2, leased: 0, done: 0, failed: 0 });
      expect(json.queue).toBe(`redis://:***@127.0.0.1:${server.port}/0#cli`);
      // -d names the queue too.
      expect((await runCli(['-d', locator, 'queue', 'stats', '--json'])).stdout).toContain(
        '"pending": 2',
      );
      // Two different queues named at once: a usage error, the password not shown.
      const twice = await runCli(['-d', tempDir('redis-cli-dir'), 'queue', 'stats', locator]);
      expect(twice.code).toBe(2);
      expect(twice.stderr).toMatch(/two queues given: .* and redis:\/\/:\*\*\*@/);

      // A job that fails its only attempt, through the CLI runner on the same locator.
      const queue = await openQueue<string>(locator, { maxAttempts: 1 });
      await queue.put('bad', { key: 'bad' });
      const failing = path.join(tempDir('redis-cli-handler'), 'fail.mjs');
      fs.writeFileSync(
        failing,
        "export default (payload) => { if (payload === 'bad') throw new Error('told to fail'); return payload; };\n",
      );
      const work = await runCli(['work', failing, '--queue', locator, '-p', '1', '--once']);
      expect(work.code, work.stderr).toBe(0);
      expect(work.stdout).toMatch(/queue drained .*2 done, 1 failed/);
      expect(work.stdout).toContain(`diskcache queue failed "redis://:***@`);
      const failed = await runCli(['queue', 'failed', locator]);
      expect(failed.stdout).toMatch(/Error: told to fail/);
      expect((await runCli(['queue', 'retry-failed', locator])).stdout).toBe(
        'moved 1 failed job back to pending\n',
      );
      expect(await queue.stats()).toMatchObject({ pending: 1, failed: 0, done: 2 });
      await queue.close();

      const wrong = `redis://:wrong-pw@127.0.0.1:${server.port}/0#cli`;
      const refused = await runCli(['queue', 'stats', wrong]);
      expect(refused.code).not.toBe(0);
      const noName = await runCli([
        'queue',
        'stats',
        `redis://:s3cret-pw@127.0.0.1:${server.port}`,
      ]);
      expect(noName.code).toBe(2);
      for (const result of [put, stats, twice, work, failed, refused, noName])
        expect(result.stdout + result.stderr).not.toMatch(/s3cret-pw|wrong-pw/);
    } finally {
      await admin.config('SET', 'requirepass', '');
      await admin.quit();
    }
  });
});
