/**
 * Work queue benchmark on plainjob's own scenario: 32,000 no-op jobs put first (not timed, as in
 * plainjob's bench/run-scenario.ts), then 1, 2 and 4 forked worker processes drain them; jobs/s =
 * jobs ÷ wall time from forking the workers until all have exited. Three systems, interleaved
 * round by round on the same machine:
 *  - this library: WorkQueue + runWorkers (leases, heartbeats, fencing; concurrency 1 per process),
 *  - plainjob 0.0.14, with its own worker loop (one job at a time per process),
 *  - Python diskcache's Deque drained by `popleft()` in N processes (no leases: a crash loses the
 *    popped item), where Python diskcache is installed.
 * Both Node systems run as plain JavaScript, as users run them: the library is compiled with
 * tsc first (into .tmp/bench-dist) and its workers are forked from that build, plainjob's from its
 * package, so that neither pays a TypeScript loader at every worker start (tsx costs a few hundred
 * ms of CPU per process here).
 * A second part times the cycle of a crawl's worker in this process, as a crawl frontier grows:
 * take 6 jobs, put 12 keyed jobs for each, ack the 6 with a result record; µs per job for each
 * step (see "A take" in docs/benchmarks.md). It reports; it never asserts a time.
 */
import { fork, spawn } from 'node:child_process';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { openQueue } from '../src/index.js';
import {
  BENCH_DIR,
  type BenchContext,
  type BenchModule,
  buildLibrary,
  exitOf,
  findPythonDiskcache,
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
const ROOT = path.dirname(BENCH_DIR);
const HANDLER = path.join(BENCH_DIR, 'queue-noop-handler.mjs');
const PLAINJOB_WORKER = path.join(BENCH_DIR, 'queue-plainjob-worker.mjs');

interface Plan {
  readonly jobs: number;
  readonly rounds: number;
}
const FULL: Plan = { jobs: 32_000, rounds: 3 };
const QUICK: Plan = { jobs: 4_000, rounds: 1 };

/** One timed drain. */
interface Run {
  /** Wall time of the drain (workers forked → all exited), ms. */
  readonly drainMs: number;
  /** Time to enqueue the jobs (not part of jobs/s), ms. */
  readonly enqueueMs: number;
}

type System = 'library' | 'plainjob' | 'python';

interface PlainjobModule {
  better(db: Database.Database): unknown;
  defineQueue(options: { connection: unknown; logger: unknown }): {
    addMany(type: string, data: unknown[]): unknown;
    countJobs(options: { status: number }): number;
    close(): void;
  };
  JobStatus: { Done: number };
}

const quiet = { error: console.error, warn: console.warn, info: () => {}, debug: () => {} };

function payloads(jobs: number): { jobId: number }[] {
  return Array.from({ length: jobs }, (_, jobId) => ({ jobId }));
}

async function runLibrary(library: Library, processes: number, jobs: number): Promise<Run> {
  const { directory, remove } = freshDirectory('queue');
  const queue = new library.WorkQueue(directory);
  try {
    const putStart = performance.now();
    queue.putMany(payloads(jobs));
    const enqueueMs = performance.now() - putStart;
    const start = performance.now();
    const summary = await library.runWorkers({
      queue,
      handler: HANDLER,
      processes,
      concurrency: 1,
      once: true,
    });
    const drainMs = performance.now() - start;
    if (summary.stats.done !== jobs)
      throw new Error(`library: ${summary.stats.done} of ${jobs} jobs done`);
    return { drainMs, enqueueMs };
  } finally {
    queue.close();
    remove();
  }
}

async function runPlainjob(
  plainjob: PlainjobModule,
  processes: number,
  jobs: number,
): Promise<Run> {
  const { directory, remove } = freshDirectory('plainjob');
  const file = path.join(directory, 'bench.db');
  const queue = plainjob.defineQueue({
    connection: plainjob.better(new Database(file)),
    logger: quiet,
  });
  try {
    const putStart = performance.now();
    queue.addMany('bench', payloads(jobs));
    const enqueueMs = performance.now() - putStart;
    const start = performance.now();
    const workers = Array.from({ length: processes }, () =>
      fork(PLAINJOB_WORKER, [file], {
        cwd: ROOT,
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(workers.map(exitOf));
    const drainMs = performance.now() - start;
    const done = queue.countJobs({ status: plainjob.JobStatus.Done });
    if (done !== jobs) throw new Error(`plainjob: ${done} of ${jobs} jobs done`);
    return { drainMs, enqueueMs };
  } finally {
    queue.close();
    remove();
  }
}

const PYTHON_FILL = `import sys, time, diskcache
d = diskcache.Deque(directory=sys.argv[1])
start = time.perf_counter()
with d.transact():
    d.extend({'jobId': i} for i in range(int(sys.argv[2])))
print((time.perf_counter() - start) * 1000)`;
const PYTHON_DRAIN = `import sys, diskcache
d = diskcache.Deque(directory=sys.argv[1])
n = 0
while True:
    try:
        d.popleft()
    except IndexError:
        break
    n += 1
print(n)`;

function python(executable: string, script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, ['-c', script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`python exited with ${code}`)),
    );
  });
}

async function runPython(executable: string, processes: number, jobs: number): Promise<Run> {
  const { directory, remove } = freshDirectory('deque');
  try {
    const enqueueMs = Number(await python(executable, PYTHON_FILL, [directory, String(jobs)]));
    const start = performance.now();
    const counts = await Promise.all(
      Array.from({ length: processes }, () => python(executable, PYTHON_DRAIN, [directory])),
    );
    const drainMs = performance.now() - start;
    const popped = counts.reduce((total, text) => total + Number(text), 0);
    if (popped !== jobs) throw new Error(`python: popped ${popped} of ${jobs}`);
    return { drainMs, enqueueMs };
  } finally {
    remove();
  }
}

/** µs per job of each step of the frontier cycle. */
interface FrontierRun {
  readonly take: number;
  readonly put: number;
  readonly ack: number;
  readonly total: number;
}

/**
 * A crawl worker's cycle on one queue, in this process: take 6, put 12 keyed jobs per job taken
 * (the frontier grows), ack the 6 with a record each, until `jobs` jobs are done.
 */
async function runFrontier(jobs: number): Promise<FrontierRun> {
  const { directory, remove } = freshDirectory('queue-frontier');
  const queue = await openQueue<{ url: string }>(directory);
  const origin = 'http://127.0.0.1:41234';
  const key = (job: { url: string }) => job.url;
  let next = 0;
  const step = { take: 0, put: 0, ack: 0 };
  try {
    await queue.putMany([{ url: `${origin}/` }], { key });
    const began = performance.now();
    let done = 0;
    while (done < jobs) {
      let at = performance.now();
      const taken = await queue.takeMany(6);
      step.take += performance.now() - at;
      if (taken.length === 0) break;
      at = performance.now();
      const links = Array.from({ length: taken.length * 12 }, () => ({
        url: `${origin}/page/${next++}`,
      }));
      await queue.putMany(links, { key });
      step.put += performance.now() - at;
      at = performance.now();
      await queue.ackMany(
        taken.map((job) => ({
          job,
          result: {
            url: job.payload.url,
            status: 200,
            title: `page ${job.id}`,
            bytes: 2345,
            outlinks: links.slice(0, 5).map((link) => link.url),
            fetchedAt: Date.now() / 1000,
          },
          tag: '200',
        })),
      );
      step.ack += performance.now() - at;
      done += taken.length;
    }
    const perJob = (ms: number) => (ms / done) * 1000;
    return {
      take: perJob(step.take),
      put: perJob(step.put),
      ack: perJob(step.ack),
      total: perJob(performance.now() - began),
    };
  } finally {
    await queue.close();
    remove();
  }
}

const bench: BenchModule = {
  name: 'queue',
  title:
    "WorkQueue + runner vs plainjob on plainjob's scenario (no-op jobs, 1/2/4 processes), and Python diskcache's Deque drain",
  async run(context: BenchContext) {
    const plan = context.quick ? QUICK : FULL;
    context.progress(
      'queue: compiling the library (tsc) so that its workers run as plain JavaScript',
    );
    const library = await buildLibrary();
    const loadBefore = loadAverage();
    const plainjob = await importOptional<PlainjobModule>('plainjob');
    const pythonFound = findPythonDiskcache();
    const systems: System[] = [
      'library',
      ...('missing' in plainjob ? [] : ['plainjob' as const]),
      ...('missing' in pythonFound ? [] : ['python' as const]),
    ];
    const runs = new Map<string, Run[]>();
    for (let round = 1; round <= plan.rounds; round++) {
      for (const processes of PROCESS_COUNTS) {
        for (const system of systems) {
          context.progress(
            `queue: round ${round}/${plan.rounds}, ${system}, ${processes} processes, ${plan.jobs} jobs`,
          );
          const run =
            system === 'library'
              ? await runLibrary(library, processes, plan.jobs)
              : system === 'plainjob'
                ? await runPlainjob(
                    (plainjob as { module: PlainjobModule }).module,
                    processes,
                    plan.jobs,
                  )
                : await runPython((pythonFound as { python: string }).python, processes, plan.jobs);
          const key = `${system}/${processes}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
        }
      }
    }
    const rate = (system: System, processes: number) => {
      const list = runs.get(`${system}/${processes}`);
      return list ? plan.jobs / (median(list.map((run) => run.drainMs)) / 1000) : Number.NaN;
    };
    const enqueue = (system: System) => {
      const list = [...runs]
        .filter(([key]) => key.startsWith(`${system}/`))
        .flatMap(([, list]) => list);
      return list.length
        ? plan.jobs / (median(list.map((run) => run.enqueueMs)) / 1000)
        : Number.NaN;
    };
    const rows = PROCESS_COUNTS.map((processes) => {
      const library = rate('library', processes);
      const reference = rate('plainjob', processes);
      return [
        String(processes),
        formatRate(library),
        formatRate(reference),
        Number.isFinite(reference) ? `${(library / reference).toFixed(1)}×` : '–',
        formatRate(rate('python', processes)),
      ];
    });
    context.log(
      `${plan.jobs.toLocaleString('en-US')} no-op jobs put first (not timed); jobs/s = jobs ÷ wall time from forking the workers until all exited (worker start-up included); median of ${plan.rounds} interleaved round(s). Node workers run as plain JavaScript (the library compiled by tsc).\n`,
    );
    context.log(
      formatTable(
        [
          { header: 'processes' },
          { header: 'node-diskcache WorkQueue + runWorkers (jobs/s)' },
          { header: `plainjob ${'version' in plainjob ? plainjob.version : ''} (jobs/s)` },
          { header: 'ratio' },
          { header: 'Python diskcache Deque popleft drain (items/s)' },
        ],
        rows,
      ),
    );
    context.log(
      `\nEnqueue (one transaction): node-diskcache putMany ${formatRate(enqueue('library'))} jobs/s; plainjob addMany ${formatRate(enqueue('plainjob'))} jobs/s; Python Deque.extend in transact ${formatRate(enqueue('python'))} items/s.`,
    );
    if ('missing' in plainjob) context.log(`\n${plainjob.missing}`);
    if ('missing' in pythonFound) context.log(`\n${pythonFound.missing}`);
    context.log(
      '\nThe library leases each job (fencing token, heartbeat, at-least-once: a killed worker loses nothing); plainjob marks jobs "processing" without a token; Python\'s Deque.popleft removes the item, so a worker that dies after popping loses it.',
    );
    context.log(
      `Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAverage()} (${context.machine.cores} cores).`,
    );
    const frontierRuns: FrontierRun[] = [];
    for (let round = 1; round <= plan.rounds; round++) {
      context.progress(`queue: frontier cycle, round ${round}/${plan.rounds}`);
      frontierRuns.push(await runFrontier(context.quick ? 1_000 : 4_000));
    }
    const frontier = Object.fromEntries(
      (['take', 'put', 'ack', 'total'] as const).map((step) => [
        step,
        median(frontierRuns.map((run) => run[step])),
      ]),
    ) as unknown as FrontierRun;
    context.log(
      `\nA crawl worker's cycle as its frontier grows (this process, one queue directory): take 6 jobs, put 12 keyed jobs for each (12 per job taken), ack the 6 with a record each; µs per job, median of ${plan.rounds} round(s).\n`,
    );
    context.log(
      formatTable(
        [
          { header: 'take 6' },
          { header: 'put 12 keyed' },
          { header: 'ackMany with records' },
          { header: 'whole cycle' },
        ],
        [[frontier.take, frontier.put, frontier.ack, frontier.total].map((us) => us.toFixed(1))],
      ),
    );
    writeResult(context.quick ? 'quick-queue.json' : 'latest-queue.json', {
      machine: context.machine,
      plan,
      frontierMicrosecondsPerJob: frontier,
      frontierRuns,
      loadAverage: { before: loadBefore, after: loadAverage() },
      jobsPerSecond: Object.fromEntries(
        systems.map((system) => [
          system,
          Object.fromEntries(PROCESS_COUNTS.map((p) => [p, Math.round(rate(system, p))])),
        ]),
      ),
      runs: Object.fromEntries(runs),
    });
  },
};

export default bench;
