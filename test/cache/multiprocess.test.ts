/**
 * Many writers on one directory, for real: child processes (forked TypeScript fixtures) and
 * worker threads, each with its own Cache. Random operations with a per-child model, racing
 * add()s, concurrent incr()s, and a child SIGKILLed in the middle of transactions. After each,
 * the state is consistent and check() is clean.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/index.js';
import { CHILD_MIN_FILE_SIZE, childValue } from '../fixtures/cache-child-kit.js';
import { filesUnder, openCache, sleep } from '../fixtures/cache-test-kit.js';
import { compiledFixture, exited, FIXTURES, forkFixture, message } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

/** Forks one child per args list, waits until all are at their start barrier, then starts them. */
async function startTogether(script: string, argsList: string[][]): Promise<ChildProcess[]> {
  const children = argsList.map((args) => forkFixture(script, args));
  await Promise.all(children.map((child) => message(child, (m) => m === 'ready')));
  for (const child of children) child.send('go');
  return children;
}

/** The final (non-'ready') message of each child, after all exited with code 0. */
async function results<T>(children: ChildProcess[]): Promise<T[]> {
  const messages = children.map((child) => message<T>(child, (m) => m !== 'ready'));
  const codes = await Promise.all(children.map(exited));
  expect(codes).toEqual(children.map(() => 0));
  return Promise.all(messages);
}

interface RandomOpsResult {
  child: number;
  model: (number | null)[];
  counter: number;
  sharedIncrements: number;
  mismatches: string[];
}

/** The value file a check() warning names. */
function valueFile(message: string): string {
  return /\S+\.val/.exec(message)?.[0] ?? message;
}

describe('child processes on one directory', () => {
  it('4 children x 2,000 random operations: every key as its owner left it, check() clean', async () => {
    const cache = openCache({ minFileSize: CHILD_MIN_FILE_SIZE });
    const children = await startTogether(
      'cache-random-ops.ts',
      [0, 1, 2, 3].map((child) => [cache.directory, String(child), String(1000 + child), '2000']),
    );
    const reports = await results<RandomOpsResult>(children);
    let totalShared = 0;
    let liveKeys = 0;
    for (const report of reports) {
      expect(report.mismatches).toEqual([]);
      report.model.forEach((seq, slot) => {
        const key = `c${report.child}:${slot}`;
        if (seq === null) expect(cache.has(key), key).toBe(false);
        else {
          liveKeys += 1;
          expect(cache.get(key), key).toStrictEqual(childValue(report.child, slot, seq));
        }
      });
      if (report.counter > 0) liveKeys += 1;
      expect(cache.get(`c${report.child}:counter`)).toBe(report.counter || undefined);
      totalShared += report.sharedIncrements;
    }
    expect(totalShared).toBeGreaterThan(500);
    expect(cache.get('shared-counter')).toBe(totalShared);
    for (let i = 0; i < 5; i++) {
      const shared = cache.get<{ child: number; op: number }>(`shared:${i}`);
      expect([0, 1, 2, 3]).toContain(shared?.child);
    }
    expect(cache.size).toBe(liveKeys + 1 + 5);
    expect(cache.check()).toEqual([]);
    // Every value file belongs to a live entry: none leaked by overwrites, deletes or pops.
    const fileBacked = [...cache.keys()].filter((key) => {
      const value = cache.get(key);
      return (
        (typeof value === 'string' || Buffer.isBuffer(value)) && value.length >= CHILD_MIN_FILE_SIZE
      );
    });
    expect(filesUnder(cache.directory)).toHaveLength(fileBacked.length);
  });

  it('8 children create one new cache at once and add the same keys: exactly one wins each', async () => {
    // The directory does not exist yet: the children also race to create and initialise it.
    const directory = path.join(tempDir('add-race'), 'new', 'cache');
    const KEYS = 40;
    const children = await startTogether(
      'cache-add-race.ts',
      Array.from({ length: 8 }, (_, id) => [directory, `child${id}`, String(KEYS)]),
    );
    const reports = await results<{ id: string; won: number[] }>(children);
    const cache = openCache(undefined, directory);
    const winners = new Map<number, string[]>();
    for (const { id, won } of reports)
      for (const key of won) winners.set(key, [...(winners.get(key) ?? []), id]);
    for (let key = 0; key < KEYS; key++) {
      expect(winners.get(key), `race:${key}`).toHaveLength(1);
      expect(cache.get(`race:${key}`)).toBe(winners.get(key)![0]);
    }
    expect(cache.size).toBe(KEYS);
    expect(cache.check()).toEqual([]);
  });

  it('4 children opening the same 30 new directories at once all succeed (initialisation races)', async () => {
    const base = tempDir('open-race');
    const COUNT = 30;
    const children = await startTogether(
      'cache-open-race.ts',
      [0, 1, 2, 3].map((id) => [base, `child${id}`, String(COUNT)]),
    );
    await results<{ id: string }>(children);
    for (let i = 0; i < COUNT; i++) {
      const cache = openCache(undefined, path.join(base, `cache-${i}`));
      expect(cache.size).toBe(4);
      expect(cache.check()).toEqual([]);
    }
  });

  it('4 children x 1,000 incr of one key: 4,000', async () => {
    const cache = openCache();
    const children = await startTogether(
      'cache-incr.ts',
      [0, 1, 2, 3].map(() => [cache.directory, 'hits', '1000']),
    );
    const reports = await results<{ last: number }>(children);
    expect(cache.get('hits')).toBe(4000);
    // Each child saw its own last increment somewhere in 1..4000, and one saw 4000.
    expect(Math.max(...reports.map((report) => report.last))).toBe(4000);
    expect(new Set(reports.map((report) => report.last)).size).toBe(4);
    expect(cache.check()).toEqual([]);
  });

  it('a child SIGKILLed in the middle of transactions leaves no half-written transaction', async () => {
    const cache = openCache({ minFileSize: 1024 });
    // Unknown files that check({fix}) left in earlier rounds (younger than its grace period).
    let leftBefore = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const child = forkFixture('cache-transact-loop.ts', [cache.directory]);
      await message(child, (m) => m === 'running');
      await sleep(20 + round * 30);
      child.kill('SIGKILL');
      expect(await exited(child)).toBe('SIGKILL');

      const a = cache.get<number>('a')!;
      expect(a).toBeGreaterThanOrEqual(19);
      expect(cache.get('b')).toEqual({ round: a });
      const big = cache.get<Buffer>('big')!;
      expect(big.subarray(0, big.indexOf('|')).toString()).toBe(String(a));
      expect(big.length).toBe(String(a).length + 1 + 4000 + (a % 100));
      expect(cache.get('n')).toBe(a + 1);
      expect(cache.get('even')).toBe(a % 2 === 0 ? a : undefined);
      expect(cache.peek({ prefix: 'log', side: 'back' })?.value).toBe(a);
      expect([...cache.keys()].filter((key) => String(key).startsWith('log-'))).toHaveLength(a + 1);
      // The interrupted work may leave a value file nobody references (written by the transaction
      // that never committed) or an emptied directory (a clean-up cut short): harmless, and what
      // check({fix}) is for. But no committed row lost its file and the counters agree.
      const warnings = cache.check();
      expect(
        warnings.filter(
          (warning) => warning.kind !== 'unknown-file' && warning.kind !== 'empty-dir',
        ),
      ).toEqual([]);
      // At most two: the file of the transaction cut short before its commit, and the file that
      // the last committed transaction replaced when the kill came between its commit and the
      // removal of that file (removals run after the commit, so a crash never loses a value).
      expect(
        warnings.filter(
          (warning) =>
            warning.kind === 'unknown-file' && !leftBefore.has(valueFile(warning.message)),
        ).length,
      ).toBeLessThanOrEqual(2);
      cache.check({ fix: true });
      // Fix leaves an unknown file younger than its grace period (it could be a write another
      // process is about to commit); everything else is repaired.
      const left = cache.check();
      expect(left.filter((warning) => warning.kind !== 'unknown-file')).toEqual([]);
      for (const warning of left) expect(warning.message).toMatch(/younger than 60 s/);
      leftBefore = new Set(left.map((warning) => valueFile(warning.message)));
    }
  });
});

describe('worker threads on one directory', () => {
  /**
   * A worker running a fixture: this run's JavaScript copy, or the TypeScript file through tsx's
   * API (workers do not inherit --import).
   */
  function tsWorker(fixture: string, workerData: unknown): Worker {
    const compiled = compiledFixture(fixture);
    if (compiled) return new Worker(compiled, { workerData });
    const require = createRequire(import.meta.url);
    const tsxPackage = require.resolve('tsx/package.json');
    const exports = JSON.parse(fs.readFileSync(tsxPackage, 'utf8')).exports['./esm/api'].import
      .default as string;
    const api = pathToFileURL(path.join(path.dirname(tsxPackage), exports)).href;
    const file = path.join(FIXTURES, fixture);
    const parent = pathToFileURL(fileURLToPath(import.meta.url)).href;
    const code = `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(file)}, ${JSON.stringify(parent)}));`;
    return new Worker(code, { eval: true, workerData });
  }

  it('4 threads, each with its own Cache: concurrent incr and set', async () => {
    const cache = openCache();
    const TIMES = 300;
    const workers = [0, 1, 2, 3].map((id) =>
      tsWorker('cache-thread-worker.ts', { directory: cache.directory, id, times: TIMES }),
    );
    const done = workers.map(
      (worker) =>
        new Promise<unknown>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3].map((id) => ({ id, done: true })));
    expect(await Promise.all(exits)).toEqual([0, 0, 0, 0]);
    expect(cache.get('thread-counter')).toBe(4 * TIMES);
    for (const id of [0, 1, 2, 3]) {
      for (let slot = 0; slot < 50; slot++) {
        const last = TIMES - 50 + slot; // the last round i with i % 50 === slot
        expect(cache.get(`thread${id}:${slot}`)).toEqual({ id, i: last });
      }
    }
    expect(cache.size).toBe(1 + 4 * 50);
    expect(cache.check()).toEqual([]);
    // A Cache opened in this thread afterwards sees the same state.
    const again = new Cache(cache.directory);
    expect(again.get('thread-counter')).toBe(4 * TIMES);
    again.close();
  });
});
