/**
 * The Redis queue benchmark, as issue 11 asks: 32,000 no-op jobs put first (timed separately as
 * the bulk enqueue), then drained by 1, 2 and 4 worker processes × concurrency 8; jobs/s = jobs ÷
 * wall time from starting the workers until all have exited (start-up included). Three systems,
 * interleaved round by round, on one redis-server that the benchmark starts on a free port
 * (no persistence, as BullMQ's own benchmarks run):
 *  - node-diskcache's RedisWorkQueue through `runWorkers({queue: 'redis://…#name'})`,
 *  - BullMQ 5/6: a Worker with concurrency 8 in each process, on the same server,
 *  - node-diskcache's SQLite WorkQueue through `runWorkers` (a directory), beside them.
 * Every run counts the jobs each handler ran (written by each process at exit): lost = jobs never
 * run, duplicated = runs beyond one per job. Bulk enqueue: `putMany` vs BullMQ's `addBulk`. Both
 * contenders' worker processes run as plain JavaScript on the same node, without a TypeScript
 * loader: the library compiled (as users run it; its runner forks its children with no loader for
 * a .js entry and a .mjs handler), BullMQ's worker a .mjs file forked with no execArgv. It
 * reports; it never asserts a time.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { findRedisServer, RedisServer } from '../test/helpers/redis-server.js';
import {
  BENCH_DIR,
  type BenchContext,
  type BenchModule,
  buildLibrary,
  exitOf,
  formatRate,
  formatTable,
  freshDirectory,
  importOptional,
  type Library,
  loadAverage,
  median,
  writeResult,
} from './lib.js';

const PROCESS_COUNTS = [1, 2, 4] as const;
const CONCURRENCY = 8;
const HANDLER = path.join(BENCH_DIR, 'redis-count-handler.mjs');
const BULLMQ_WORKER = path.join(BENCH_DIR, 'redis-bullmq-worker.mjs');

interface Plan {
  readonly jobs: number;
  readonly rounds: number;
}
/** Three rounds: on a shared, loaded machine one round can be twice as slow as the next. */
const FULL: Plan = { jobs: 32_000, rounds: 3 };
const QUICK: Plan = { jobs: 4_000, rounds: 1 };

type System = 'redis' | 'bullmq' | 'sqlite';
const LABELS: Record<System, string> = {
  redis: 'node-diskcache RedisWorkQueue + runWorkers',
  bullmq: 'BullMQ Worker',
  sqlite: 'node-diskcache SQLite WorkQueue + runWorkers',
};

interface Run {
  readonly drainMs: number;
  readonly enqueueMs: number;
  readonly lost: number;
  readonly duplicated: number;
}

interface BullQueue {
  addBulk(jobs: { name: string; data: unknown }[]): Promise<unknown>;
  getCompletedCount(): Promise<number>;
  close(): Promise<void>;
}
interface BullModule {
  Queue: new (name: string, options: { connection: { host: string; port: number } }) => BullQueue;
}

function payloads(jobs: number): { jobId: number }[] {
  return Array.from({ length: jobs }, (_, jobId) => ({ jobId }));
}

/** Lost and duplicated jobs, from the ids each process wrote to `directory`. */
function tally(directory: string, jobs: number): { lost: number; duplicated: number } {
  const seen = new Uint32Array(jobs);
  let runs = 0;
  for (const file of fs.readdirSync(directory)) {
    for (const id of JSON.parse(fs.readFileSync(path.join(directory, file), 'utf8')) as number[]) {
      seen[id]!++;
      runs++;
    }
  }
  const unique = seen.filter((count) => count > 0).length;
  return { lost: jobs - unique, duplicated: runs - unique };
}

/** The library's runner on `locator` (a Redis URL or a directory). */
async function runLibrary(
  library: Library,
  locator: string,
  processes: number,
  jobs: number,
  counts: string,
): Promise<Omit<Run, 'lost' | 'duplicated'>> {
  const queue = await library.openQueue(locator);
  try {
    const putStart = performance.now();
    await queue.putMany(payloads(jobs));
    const enqueueMs = performance.now() - putStart;
    process.env.BENCH_COUNT_DIR = counts;
    const start = performance.now();
    const summary = await library.runWorkers({
      queue: locator,
      handler: HANDLER,
      processes,
      concurrency: CONCURRENCY,
      once: true,
    });
    const drainMs = performance.now() - start;
    if (summary.stats.done !== jobs)
      throw new Error(`${locator}: ${summary.stats.done} of ${jobs} jobs done`);
    return { drainMs, enqueueMs };
  } finally {
    delete process.env.BENCH_COUNT_DIR;
    await queue.close();
  }
}

async function runBullmq(
  bullmq: BullModule,
  port: number,
  name: string,
  processes: number,
  jobs: number,
  counts: string,
): Promise<Omit<Run, 'lost' | 'duplicated'>> {
  const queue = new bullmq.Queue(name, { connection: { host: '127.0.0.1', port } });
  try {
    const putStart = performance.now();
    await queue.addBulk(payloads(jobs).map((data) => ({ name: 'bench', data })));
    const enqueueMs = performance.now() - putStart;
    const start = performance.now();
    const workers = Array.from({ length: processes }, () =>
      fork(BULLMQ_WORKER, [String(port), name, String(CONCURRENCY), counts], {
        cwd: BENCH_DIR,
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(workers.map(exitOf));
    const drainMs = performance.now() - start;
    const done = await queue.getCompletedCount();
    if (done !== jobs) throw new Error(`bullmq: ${done} of ${jobs} jobs completed`);
    return { drainMs, enqueueMs };
  } finally {
    await queue.close();
  }
}

const bench: BenchModule = {
  name: 'redis',
  title:
    'Redis WorkQueue + runner vs BullMQ on one redis-server (no-op jobs, 1/2/4 processes × 8), the SQLite queue beside them; bulk enqueue',
  async run(context: BenchContext) {
    if (findRedisServer() === null) {
      context.log('redis-server is not installed (apt-get install -y redis-server): skipped.');
      return;
    }
    const plan = context.quick ? QUICK : FULL;
    context.progress(
      'redis: compiling the library (tsc) so that its workers run as plain JavaScript',
    );
    const library = await buildLibrary();
    const bullmq = await importOptional<BullModule>('bullmq');
    const server = await RedisServer.start();
    const admin = new Redis(server.port, '127.0.0.1');
    const loadBefore = loadAverage();
    const systems: System[] = [
      'redis',
      ...('missing' in bullmq ? [] : ['bullmq' as const]),
      'sqlite',
    ];
    const runs = new Map<string, Run[]>();
    try {
      for (let round = 1; round <= plan.rounds; round++) {
        for (const processes of PROCESS_COUNTS) {
          for (const system of systems) {
            context.progress(
              `redis: round ${round}/${plan.rounds}, ${system}, ${processes} processes × ${CONCURRENCY}, ${plan.jobs} jobs`,
            );
            await admin.flushall();
            const counts = freshDirectory('redis-counts');
            const sqlite = freshDirectory('redis-sqlite');
            const name = `bench-${round}-${processes}`;
            try {
              const timed =
                system === 'redis'
                  ? await runLibrary(
                      library,
                      server.locator(name),
                      processes,
                      plan.jobs,
                      counts.directory,
                    )
                  : system === 'bullmq'
                    ? await runBullmq(
                        (bullmq as { module: BullModule }).module,
                        server.port,
                        name,
                        processes,
                        plan.jobs,
                        counts.directory,
                      )
                    : await runLibrary(
                        library,
                        sqlite.directory,
                        processes,
                        plan.jobs,
                        counts.directory,
                      );
              const run = { ...timed, ...tally(counts.directory, plan.jobs) };
              const key = `${system}/${processes}`;
              runs.set(key, [...(runs.get(key) ?? []), run]);
            } finally {
              counts.remove();
              sqlite.remove();
            }
          }
        }
      }
    } finally {
      await admin.quit();
      await server.stop();
    }
    const loadAfter = loadAverage();
    const listOf = (system: System, processes?: number) =>
      [...runs]
        .filter(([key]) =>
          processes === undefined ? key.startsWith(`${system}/`) : key === `${system}/${processes}`,
        )
        .flatMap(([, list]) => list);
    const rate = (system: System, processes: number) => {
      const list = listOf(system, processes);
      return list.length ? plan.jobs / (median(list.map((run) => run.drainMs)) / 1000) : Number.NaN;
    };
    const enqueue = (system: System) => {
      const list = listOf(system);
      return list.length
        ? plan.jobs / (median(list.map((run) => run.enqueueMs)) / 1000)
        : Number.NaN;
    };
    const faults = (system: System) => {
      const list = listOf(system);
      return `${list.reduce((n, run) => n + run.lost, 0)} lost, ${list.reduce((n, run) => n + run.duplicated, 0)} duplicated`;
    };
    const ratio = (a: number, b: number) =>
      Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : '–';
    context.log(
      `${plan.jobs.toLocaleString('en-US')} no-op jobs put first; jobs/s = jobs ÷ wall time from starting the workers until all exited (start-up included), concurrency ${CONCURRENCY} per process; median of ${plan.rounds} interleaved round(s); one redis-server (no persistence) for both Redis systems. Every worker process of both runs as plain JavaScript on node ${process.version} (the library compiled with tsc, BullMQ's worker a .mjs file; no TypeScript loader in either).\n`,
    );
    context.log(
      formatTable(
        [
          { header: 'processes' },
          { header: `${LABELS.redis} (jobs/s)` },
          { header: `${LABELS.bullmq} ${'version' in bullmq ? bullmq.version : ''} (jobs/s)` },
          { header: 'ratio' },
          { header: `${LABELS.sqlite} (jobs/s)` },
        ],
        PROCESS_COUNTS.map((processes) => [
          String(processes),
          formatRate(rate('redis', processes)),
          formatRate(rate('bullmq', processes)),
          ratio(rate('redis', processes), rate('bullmq', processes)),
          formatRate(rate('sqlite', processes)),
        ]),
      ),
    );
    context.log(
      `\nBulk enqueue of ${plan.jobs.toLocaleString('en-US')} jobs: RedisWorkQueue putMany ${formatRate(enqueue('redis'))} jobs/s; BullMQ addBulk ${formatRate(enqueue('bullmq'))} jobs/s (${ratio(enqueue('redis'), enqueue('bullmq'))}); SQLite putMany ${formatRate(enqueue('sqlite'))} jobs/s.`,
    );
    // Each round's Redis and BullMQ runs are neighbours in time (the same load): their ratio.
    const paired = PROCESS_COUNTS.map((processes) => {
      const ours = listOf('redis', processes);
      const theirs = listOf('bullmq', processes);
      const ratios = ours
        .map((run, i) => (theirs[i] ? theirs[i].drainMs / run.drainMs : Number.NaN))
        .filter(Number.isFinite)
        .map((value) => `${value.toFixed(1)}×`);
      return `${processes}: ${ratios.join(', ') || '–'}`;
    });
    context.log(`Redis vs BullMQ round by round (processes: ratios): ${paired.join('; ')}.`);
    context.log(
      `Counted in every run: ${systems.map((system) => `${system} ${faults(system)}`).join('; ')}.`,
    );
    if ('missing' in bullmq) context.log(`\n${bullmq.missing}`);
    context.log(
      `Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter} (${context.machine.cores} cores).`,
    );
    writeResult(context.quick ? 'quick-redis.json' : 'latest-redis.json', {
      machine: context.machine,
      plan,
      loadAverage: { before: loadBefore, after: loadAfter },
      jobsPerSecond: Object.fromEntries(
        systems.map((system) => [
          system,
          Object.fromEntries(PROCESS_COUNTS.map((p) => [p, Math.round(rate(system, p))])),
        ]),
      ),
      enqueuePerSecond: Object.fromEntries(
        systems.map((system) => [system, Math.round(enqueue(system))]),
      ),
      runs: Object.fromEntries(runs),
    });
  },
};

export default bench;
