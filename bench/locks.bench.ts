/**
 * Lock benchmark: the latency of one acquire + release of the cross-process locks, uncontended
 * (one process, nobody else) and contended (4 processes hammering one key), for Lock, RLock and
 * BoundedSemaphore(1), next to Python diskcache's Lock on the same machine where it is installed.
 * It reports; it never asserts a time.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import * as path from 'node:path';
import { BoundedSemaphore, Cache, Lock, RLock } from '../src/index.js';
import {
  BENCH_DIR,
  type BenchContext,
  type BenchModule,
  findPythonDiskcache,
  formatNumber,
  formatRate,
  formatTable,
  freshDirectory,
  loadAverage,
  measure,
  type Stats,
  summarize,
  writeResult,
} from './lib.js';

const PROCESSES = 4;

interface Plan {
  readonly uncontendedOps: number;
  readonly contendedSeconds: number;
}
const FULL: Plan = { uncontendedOps: 20_000, contendedSeconds: 3 };
const QUICK: Plan = { uncontendedOps: 2_000, contendedSeconds: 1 };

interface Row {
  readonly system: string;
  readonly stats: Stats;
  /** Contended only: fewest and most operations one process completed. */
  readonly spread?: readonly [number, number];
}

/** One await acquire() + release() of `lock`. */
const cycle = (lock: Lock | RLock | BoundedSemaphore) => async () => {
  await lock.acquire();
  lock.release();
};

/** Times `ops` awaited calls of `fn`, one sample per call, after a short warm-up. */
async function measureAsync(fn: () => Promise<unknown>, ops: number): Promise<Stats> {
  for (let i = 0; i < Math.min(500, ops / 10); i++) await fn();
  const samples = new Float64Array(ops);
  for (let i = 0; i < ops; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples[i] = Number(process.hrtime.bigint() - start);
  }
  return summarize(samples);
}

/** Contended: PROCESSES children loop on one lock for `seconds`; ops/s is the total of all. */
async function contended(kind: string, seconds: number): Promise<Row> {
  const { directory, remove } = freshDirectory('locks');
  new Cache(directory).close(); // create the database before the children race to
  const children: ChildProcess[] = Array.from({ length: PROCESSES }, () =>
    fork(path.join(BENCH_DIR, 'recipes-child.ts'), ['lock', directory, kind, String(seconds)], {
      execArgv: ['--import', 'tsx'],
    }),
  );
  try {
    await Promise.all(
      children.map((child) => new Promise((resolve) => child.once('message', resolve))),
    );
    const reports = children.map(
      (child) => new Promise<{ samples: number[] }>((resolve) => child.once('message', resolve)),
    );
    for (const child of children) child.send('go');
    const all = await Promise.all(reports);
    const samples = all.flatMap((report) => report.samples);
    const stats = summarize(samples);
    const counts = all.map((report) => report.samples.length);
    return {
      system: `${kind === 'semaphore' ? 'BoundedSemaphore(1)' : kind === 'rlock' ? 'RLock' : 'Lock'} (node-diskcache)`,
      stats: { ...stats, opsPerSecond: samples.length / seconds },
      spread: [Math.min(...counts), Math.max(...counts)],
    };
  } finally {
    for (const child of children) child.kill();
    remove();
  }
}

const PYTHON_LOCK = `
import diskcache, json, sys, time
directory, ops, start_at, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
cache = diskcache.Cache(directory)
lock = diskcache.Lock(cache, 'bench-lock', expire=60)
for _ in range(min(500, ops // 10)):
    lock.acquire(); lock.release()
while time.time() < start_at:
    time.sleep(0.001)
samples = []
end = time.time() + seconds if seconds > 0 else None
while (len(samples) < ops) if end is None else (time.time() < end):
    t0 = time.perf_counter_ns()
    lock.acquire()
    lock.release()
    samples.append(time.perf_counter_ns() - t0)
print(json.dumps(samples))
`;

/** Python diskcache's Lock: `processes` interpreters, started together (wall clock), `ops` or `seconds` each. */
async function pythonLock(
  python: string,
  processes: number,
  ops: number,
  seconds: number,
): Promise<number[][]> {
  const { directory, remove } = freshDirectory('locks-py');
  new Cache(directory).close();
  const startAt = Date.now() / 1000 + 1.5; // time for every interpreter to start
  try {
    return await Promise.all(
      Array.from(
        { length: processes },
        () =>
          new Promise<number[]>((resolve, reject) => {
            const child = spawn(python, [
              '-c',
              PYTHON_LOCK,
              directory,
              String(ops),
              String(startAt),
              String(seconds),
            ]);
            let out = '';
            let err = '';
            child.stdout.on('data', (chunk: Buffer) => (out += chunk));
            child.stderr.on('data', (chunk: Buffer) => (err += chunk));
            child.on('exit', (code) =>
              code === 0
                ? resolve(JSON.parse(out) as number[])
                : reject(new Error(`python lock: ${err.slice(-500)}`)),
            );
          }),
      ),
    );
  } finally {
    remove();
  }
}

function table(rows: readonly Row[], contendedRows: boolean): string {
  const columns = [
    { header: 'lock', align: 'left' as const },
    { header: 'p50 µs' },
    { header: 'p99 µs' },
    { header: 'mean µs' },
    { header: contendedRows ? 'ops/s (all processes)' : 'ops/s' },
  ];
  if (contendedRows) columns.push({ header: 'ops per process (min–max)' });
  return formatTable(
    columns,
    rows.map((row) => {
      const cells = [
        row.system,
        formatNumber(row.stats.p50Us),
        formatNumber(row.stats.p99Us),
        formatNumber(row.stats.meanUs),
        formatRate(row.stats.opsPerSecond),
      ];
      if (contendedRows)
        cells.push(
          row.spread
            ? `${row.spread[0].toLocaleString('en-US')}–${row.spread[1].toLocaleString('en-US')}`
            : '–',
        );
      return cells;
    }),
  );
}

async function run(context: BenchContext): Promise<void> {
  const loadBefore = loadAverage();
  const plan = context.quick ? QUICK : FULL;
  const python = findPythonDiskcache();

  context.progress('locks: uncontended');
  const { directory, remove } = freshDirectory('locks');
  const cache = new Cache(directory);
  const uncontended: Row[] = [];
  try {
    const lock = new Lock(cache, 'lock', { expire: 60 });
    uncontended.push({
      system: 'Lock await acquire() + release()',
      stats: await measureAsync(cycle(lock), plan.uncontendedOps),
    });
    uncontended.push({
      system: 'Lock tryAcquire() + release() (sync)',
      stats: measure(
        () => {
          lock.tryAcquire();
          lock.release();
        },
        { ops: plan.uncontendedOps, warmup: 500, batch: 1 },
      ),
    });
    const rlock = new RLock(cache, 'rlock', { expire: 60 });
    uncontended.push({
      system: 'RLock await acquire() + release()',
      stats: await measureAsync(cycle(rlock), plan.uncontendedOps),
    });
    const semaphore = new BoundedSemaphore(cache, 'semaphore', { value: 3, expire: 60 });
    uncontended.push({
      system: 'BoundedSemaphore(3) await acquire() + release()',
      stats: await measureAsync(cycle(semaphore), plan.uncontendedOps),
    });
  } finally {
    cache.close();
    remove();
  }
  if ('python' in python) {
    context.progress('locks: uncontended, Python diskcache');
    const [samples] = await pythonLock(python.python, 1, plan.uncontendedOps, 0);
    uncontended.push({
      system: `diskcache.Lock acquire() + release() (${python.version})`,
      stats: summarize(samples!),
    });
  }

  const contendedRows: Row[] = [];
  for (const kind of ['lock', 'rlock', 'semaphore']) {
    context.progress(`locks: ${PROCESSES} processes contending, ${kind}`);
    contendedRows.push(await contended(kind, plan.contendedSeconds));
  }
  if ('python' in python) {
    context.progress(`locks: ${PROCESSES} processes contending, Python diskcache`);
    const perProcess = await pythonLock(
      python.python,
      PROCESSES,
      Number.MAX_SAFE_INTEGER,
      plan.contendedSeconds,
    );
    const samples = perProcess.flat();
    const counts = perProcess.map((list) => list.length);
    contendedRows.push({
      system: `diskcache.Lock (${python.version})`,
      stats: { ...summarize(samples), opsPerSecond: samples.length / plan.contendedSeconds },
      spread: [Math.min(...counts), Math.max(...counts)],
    });
  }

  context.log(
    'Uncontended: one process takes and gives back a lock nobody else wants (per operation).\n',
  );
  context.log(table(uncontended, false));
  context.log(
    `\nContended: ${PROCESSES} processes loop on acquire + release of one key for ${plan.contendedSeconds} s; latency includes the wait.\n`,
  );
  context.log(table(contendedRows, true));
  if ('missing' in python) context.log(`\n${python.missing}`);
  context.log(
    '\nWaiters in other processes poll with backoff (1 ms doubling to 50 ms), so a process that releases and' +
      ' immediately re-acquires usually wins again: the min–max column shows how unfair that makes a tight loop.',
  );
  context.log(
    `\nLoad average (1/5/15 min) before: ${loadBefore}; after: ${loadAverage()} (${context.machine.cores} cores).`,
  );
  writeResult(context.quick ? 'quick-locks.json' : 'latest-locks.json', {
    benchmark: 'locks',
    date: new Date().toISOString(),
    loadAverage: { before: loadBefore, after: loadAverage() },
    machine: context.machine,
    quick: context.quick,
    uncontended,
    contended: contendedRows,
  });
}

const bench: BenchModule = {
  name: 'locks',
  title: 'Lock / RLock / BoundedSemaphore acquire + release, uncontended and 4 processes',
  run,
};
export default bench;
