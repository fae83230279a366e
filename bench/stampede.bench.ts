/**
 * Stampede benchmark: 4 processes x 50 concurrent callers ask for the same cold key of a slow
 * loader (200 ms) at the same moment, on one shared cache. Compares memoizeStampede with
 * node-diskcache's plain `cache.memoize` and with cache-manager's `wrap()` over Keyv +
 * @keyv/sqlite (a shared SQLite file): how many times the loader ran, whether every caller got the
 * same value, and how long callers waited. It reports; it never asserts a time.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { Cache } from '../src/index.js';
import {
  BENCH_DIR,
  type BenchContext,
  type BenchModule,
  formatNumber,
  formatTable,
  freshDirectory,
  importOptional,
  loadAverage,
  writeResult,
} from './lib.js';

const PROCESSES = 4;
const CALLERS = 50;
const LOADER_MS = 200;
const CONTENDERS = [
  'memoizeStampede',
  'cache.memoize',
  'cache-manager wrap() + @keyv/sqlite',
] as const;

interface Result {
  readonly contender: string;
  readonly rounds: number;
  /** Loader runs per cold key, averaged over the rounds (1 is the ideal). */
  readonly runsPerKey: number;
  /** Distinct values handed to the 200 callers of one key, at worst over the rounds. */
  readonly distinctValues: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return (
    sorted[Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length))) - 1] ??
    Number.NaN
  );
}

async function measureContender(contender: string, rounds: number): Promise<Result> {
  const { directory, remove } = freshDirectory('stampede');
  const counter = new Cache(path.join(directory, 'counter'));
  new Cache(path.join(directory, 'diskcache')).close(); // create the databases before the children race to
  const children: ChildProcess[] = Array.from({ length: PROCESSES }, () =>
    fork(
      path.join(BENCH_DIR, 'recipes-child.ts'),
      ['stampede', contender, directory, String(LOADER_MS)],
      { execArgv: ['--import', 'tsx'] },
    ),
  );
  const next = <T>(child: ChildProcess) =>
    new Promise<T>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`${contender}: a child exited (${code})`)));
    });
  try {
    await Promise.all(children.map((child) => next(child)));
    const latencies: number[] = [];
    let runs = 0;
    let distinctValues = 0;
    for (let round = 0; round < rounds; round++) {
      const before = Number(counter.get('runs') ?? 0);
      const reports = children.map((child) =>
        next<{ latencies: number[]; distinct: string[] }>(child),
      );
      const key = `report-${round}`;
      for (const child of children) child.send({ key });
      const all = await Promise.all(reports);
      runs += Number(counter.get('runs') ?? 0) - before;
      distinctValues = Math.max(
        distinctValues,
        new Set(all.flatMap((report) => report.distinct)).size,
      );
      latencies.push(...all.flatMap((report) => report.latencies));
    }
    for (const child of children) child.send({});
    latencies.sort((a, b) => a - b);
    return {
      contender,
      rounds,
      runsPerKey: runs / rounds,
      distinctValues,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.at(-1) ?? Number.NaN,
    };
  } finally {
    for (const child of children) child.kill();
    counter.close();
    remove();
  }
}

async function run(context: BenchContext): Promise<void> {
  const loadBefore = loadAverage();
  const rounds = context.quick ? 2 : 5;
  const versions = await Promise.all(
    ['cache-manager', 'keyv', '@keyv/sqlite'].map((name) => importOptional(name)),
  );
  const missing = versions.find((found) => 'missing' in found);
  const results: Result[] = [];
  for (const contender of CONTENDERS) {
    if (contender.startsWith('cache-manager') && missing) continue;
    context.progress(`stampede: ${contender}`);
    results.push(await measureContender(contender, rounds));
  }
  context.log(
    `${PROCESSES} processes x ${CALLERS} concurrent callers ask for one cold key of a ${LOADER_MS} ms loader at once; ${rounds} rounds (a new key each).\n`,
  );
  context.log(
    formatTable(
      [
        { header: 'memoizer', align: 'left' },
        { header: 'loader runs per key' },
        { header: 'distinct values seen' },
        { header: 'caller p50 ms' },
        { header: 'caller p99 ms' },
        { header: 'caller max ms' },
      ],
      results.map((r) => [
        r.contender,
        formatNumber(r.runsPerKey),
        String(r.distinctValues),
        formatNumber(r.p50Ms),
        formatNumber(r.p99Ms),
        formatNumber(r.maxMs),
      ]),
    ),
  );
  if (missing && 'missing' in missing) context.log(`\n${missing.missing}`);
  else {
    const found = versions
      .map(
        (v, i) =>
          `${['cache-manager', 'keyv', '@keyv/sqlite'][i]} ${'version' in v ? v.version : '?'}`,
      )
      .join(', ');
    context.log(`\n${found}. cache-manager coalesces concurrent calls within one process only.`);
  }
  context.log(
    `\nLoad average (1/5/15 min) before: ${loadBefore}; after: ${loadAverage()} (${context.machine.cores} cores).`,
  );
  writeResult(context.quick ? 'quick-stampede.json' : 'latest-stampede.json', {
    benchmark: 'stampede',
    date: new Date().toISOString(),
    loadAverage: { before: loadBefore, after: loadAverage() },
    machine: context.machine,
    quick: context.quick,
    processes: PROCESSES,
    callers: CALLERS,
    loaderMs: LOADER_MS,
    results,
  });
}

const bench: BenchModule = {
  name: 'stampede',
  title:
    'cold-key stampede, 4 processes x 50 callers: memoizeStampede vs cache.memoize vs cache-manager wrap()',
  run,
};
export default bench;
