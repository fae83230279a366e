/**
 * Crawl benchmark: pages per second and peak memory of `crawl()` on the built-in demo site (2,000
 * pages on 127.0.0.1, a fresh site for each run) with 1, 2 and 4 worker processes, beside
 * crawlee's CheerioCrawler (its storage on disk as by default, and in memory) and a bare in-memory
 * crawler (same parser, nothing durable), in one run. The fast contenders run in rounds and are
 * reported by their medians. Memory is summed over each contender's processes (RSS, and PSS where
 * /proc gives it: shared pages counted once), sampled every 100 ms, and shown per process for
 * crawl() (the parent that supervises, the largest worker); CPU seconds are summed over each
 * contender's processes (from /proc, exact for exited workers). Each contender runs in a child of
 * its own (bench/crawl-child.mjs, plain node on the compiled crawler in dist/, built first); the
 * site runs here. It reports; it never asserts.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDemoSite } from '../src/crawler/index.js';
import {
  BENCH_DIR,
  type BenchContext,
  type BenchModule,
  formatNumber,
  formatTable,
  loadAverage,
  writeResult,
} from './lib.js';

/** The pids of `root` and all its descendants (Linux /proc; just `root` elsewhere). */
function processTree(root: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [root];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** RSS and PSS of one process, in KiB (PSS undefined where smaps_rollup is missing). */
function memoryOf(pid: number): { rss: number; pss: number | undefined } {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1]);
    return { rss: field('Rss') || 0, pss: field('Pss') || undefined };
  } catch {
    return { rss: 0, pss: undefined };
  }
}

/** Peak memory of one process, MiB. */
interface ProcessPeak {
  readonly rssMiB: number;
  readonly pssMiB: number | undefined;
}

interface Outcome {
  readonly pages: number;
  readonly seconds: number;
  /** Summed over the contender's processes (sampled together). */
  readonly peakRssMiB: number;
  readonly peakPssMiB: number | undefined;
  /** CPU seconds of the contender's first process and of its children (the crawl's workers). */
  readonly cpuSeconds: { readonly self: number; readonly children: number };
  /** The first process's own peak (for crawl(): the parent, which supervises). */
  readonly parent: ProcessPeak;
  /** Each child process's peak (for crawl(): the workers). */
  readonly children: readonly ProcessPeak[];
}

/** `a / b` for MiB figures that may be missing (no PSS outside Linux). */
function mib(value: number | undefined): string {
  return value === undefined ? '–' : formatNumber(value);
}

function runContender(args: string[]): Promise<Outcome> {
  // crawlee keeps its storage in ./storage: a fresh directory for each run, removed after it.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'diskcache-bench-contender-'));
  return new Promise<Outcome>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, 'crawl-child.mjs'), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    let peakRss = 0;
    let peakPss: number | undefined;
    const peaks = new Map<number, { rss: number; pss: number | undefined }>();
    const sampler = setInterval(() => {
      let rss = 0;
      let pss: number | undefined = 0;
      for (const pid of processTree(child.pid!)) {
        const memory = memoryOf(pid);
        rss += memory.rss;
        pss = pss === undefined || memory.pss === undefined ? undefined : pss + memory.pss;
        const peak = peaks.get(pid);
        if (peak === undefined) peaks.set(pid, { ...memory });
        else {
          peak.rss = Math.max(peak.rss, memory.rss);
          if (memory.pss !== undefined) peak.pss = Math.max(peak.pss ?? 0, memory.pss);
        }
      }
      peakRss = Math.max(peakRss, rss);
      if (pss !== undefined) peakPss = Math.max(peakPss ?? 0, pss);
    }, 100);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      if (code !== 0) return reject(new Error(`crawl-child ${args.join(' ')} exited ${code}`));
      const { pages, seconds, cpu } = JSON.parse(output.trim().split('\n').at(-1)!) as {
        pages: number;
        seconds: number;
        cpu: { self: number; children: number };
      };
      const inMiB = (peak: { rss: number; pss: number | undefined } | undefined): ProcessPeak => ({
        rssMiB: (peak?.rss ?? 0) / 1024,
        pssMiB: peak?.pss === undefined ? undefined : peak.pss / 1024,
      });
      resolve({
        pages,
        seconds,
        peakRssMiB: peakRss / 1024,
        peakPssMiB: peakPss === undefined ? undefined : peakPss / 1024,
        cpuSeconds: cpu,
        parent: inMiB(peaks.get(child.pid!)),
        children: [...peaks].filter(([pid]) => pid !== child.pid).map(([, peak]) => inMiB(peak)),
      });
    });
  }).finally(() => fs.rmSync(cwd, { recursive: true, force: true }));
}

/** The median of `values` (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The reference for speed: everything in memory, one process. */
const IN_MEMORY = 'in-memory undici crawler (2 × 16 requests)';
/** The reference for memory: crawlee as it runs by default, its state durable like crawl()'s. */
const CRAWLEE_DISK = "crawlee's CheerioCrawler (32 requests, storage on disk: its default)";
const CRAWLEE_MEMORY = "crawlee's CheerioCrawler (32 requests, memory storage)";

const bench: BenchModule = {
  name: 'crawl',
  title:
    "crawl(): pages/s and peak memory with 1, 2, 4 processes vs crawlee's CheerioCrawler and an in-memory undici crawler",
  async run(context: BenchContext) {
    context.progress('building dist/ (the contenders run the compiled crawler)');
    const build = spawnSync('npm', ['run', '--silent', 'build'], {
      cwd: path.dirname(BENCH_DIR),
      stdio: ['ignore', 2, 2],
    });
    if (build.status !== 0) throw new Error('npm run build failed');
    const sitePages = context.quick ? 300 : 2000;
    const concurrency = 16;
    // The fast contenders run in rounds (their order reversed every other round) and are reported
    // by their medians: one run of the in-memory crawler varied by 1.5x on this machine, and a
    // round's ratio at 2 x 16 by a tenth (0.40-0.55 over nine rounds), so five rounds. crawlee,
    // 10-20 s a run, runs once in each of its two settings.
    const roundCount = context.quick ? 1 : 5;
    // Args after the kind: processes, concurrency (the start URL goes in front at each run).
    const fast: [string, string[]][] = [
      [IN_MEMORY, ['memory', '2', String(concurrency)]],
      ...[1, 2, 4].map((processes): [string, string[]] => [
        `crawl(), ${processes} process${processes > 1 ? 'es' : ''} × ${concurrency}`,
        ['diskcache', String(processes), String(concurrency)],
      ]),
    ];
    const results = new Map<string, Outcome[]>();
    const run = async (label: string, [kind, ...rest]: string[]) => {
      context.progress(`${label} (load ${loadAverage()})`);
      // A fresh site for every run: its flaky pages answer 503 (Retry-After: 0) to the first
      // request only, so every contender meets them.
      const site = await startDemoSite({ pages: sitePages, slowMs: 10 });
      try {
        const outcome = await runContender([kind!, site.url, ...rest]);
        results.set(label, [...(results.get(label) ?? []), outcome]);
        return outcome;
      } finally {
        await site.close();
      }
    };
    /** Per round, each fast contender's pages/s over the in-memory crawler's in the same round. */
    const speedRatios = new Map<string, number[]>();
    for (let round = 0; round < roundCount; round++) {
      const speeds = new Map<string, number>();
      for (const [label, args] of round % 2 ? [...fast].reverse() : fast) {
        const outcome = await run(label, args);
        speeds.set(label, outcome.pages / outcome.seconds);
      }
      for (const [label, speed] of speeds)
        speedRatios.set(label, [...(speedRatios.get(label) ?? []), speed / speeds.get(IN_MEMORY)!]);
      if (round === 0) {
        await run(CRAWLEE_DISK, ['crawlee-disk', '2', String(concurrency)]);
        await run(CRAWLEE_MEMORY, ['crawlee', '2', String(concurrency)]);
      }
    }
    const of = (label: string, pick: (outcome: Outcome) => number | undefined) => {
      const values = results.get(label)!.map(pick);
      return values.some((value) => value === undefined) ? undefined : median(values as number[]);
    };
    const inMemorySpeed = of(IN_MEMORY, (o) => o.pages / o.seconds)!;
    const versus = (label: string, reference: string) => {
      const rss = of(label, (o) => o.peakRssMiB)! / of(reference, (o) => o.peakRssMiB)!;
      const pssOf = of(label, (o) => o.peakPssMiB);
      const referencePss = of(reference, (o) => o.peakPssMiB);
      const pss =
        pssOf === undefined || referencePss === undefined
          ? '–'
          : `${formatNumber(pssOf / referencePss)}×`;
      return `${formatNumber(rss)}× / ${pss}`;
    };
    const order = [
      IN_MEMORY,
      CRAWLEE_DISK,
      CRAWLEE_MEMORY,
      ...fast.slice(1).map(([label]) => label),
    ];
    const rows = order.map((label) => {
      const outcomes = results.get(label)!;
      const speed = of(label, (o) => o.pages / o.seconds)!;
      const ratio = speedRatios.has(label)
        ? median(speedRatios.get(label)!)
        : speed / inMemorySpeed;
      return [
        label,
        String(outcomes.length),
        [...new Set(outcomes.map((o) => o.pages))].join(', '),
        formatNumber(of(label, (o) => o.seconds)!),
        formatNumber(speed),
        `${formatNumber(ratio)}×`,
        formatNumber(of(label, (o) => o.peakRssMiB)!),
        mib(of(label, (o) => o.peakPssMiB)),
        versus(label, CRAWLEE_DISK),
        versus(label, CRAWLEE_MEMORY),
        formatNumber(of(label, (o) => o.cpuSeconds.self + o.cpuSeconds.children)!),
      ];
    });
    const processRows = order
      .filter((label) => label.startsWith('crawl()'))
      .map((label) => {
        const largest = (o: Outcome, field: 'rssMiB' | 'pssMiB') =>
          o.children.some((peak) => peak[field] === undefined)
            ? undefined
            : Math.max(0, ...o.children.map((peak) => peak[field] ?? 0));
        return [
          label,
          mib(of(label, (o) => o.parent.rssMiB)),
          mib(of(label, (o) => o.parent.pssMiB)),
          formatNumber(of(label, (o) => o.cpuSeconds.self)!),
          String(results.get(label)![0]!.children.length),
          mib(of(label, (o) => largest(o, 'rssMiB'))),
          mib(of(label, (o) => largest(o, 'pssMiB'))),
          formatNumber(of(label, (o) => o.cpuSeconds.children)!),
        ];
      });
    context.log(
      formatTable(
        [
          { header: 'crawler', align: 'left' },
          { header: 'runs' },
          { header: 'pages' },
          { header: 'seconds' },
          { header: 'pages/s' },
          { header: 'vs in-memory' },
          { header: 'peak RSS MiB' },
          { header: 'peak PSS MiB' },
          { header: 'RSS / PSS vs crawlee, disk' },
          { header: 'RSS / PSS vs crawlee, memory' },
          { header: 'CPU s' },
        ],
        rows,
      ),
    );
    context.log(
      `\nPer process (each process's own peak; the sums above are sampled together):\n${formatTable(
        [
          { header: 'crawl()', align: 'left' },
          { header: 'parent RSS MiB' },
          { header: 'parent PSS MiB' },
          { header: 'parent CPU s' },
          { header: 'workers' },
          { header: 'largest worker RSS' },
          { header: 'largest worker PSS' },
          { header: 'workers CPU s' },
        ],
        processRows,
      )}`,
    );
    context.log(
      `\nDemo site: ${sitePages} pages, slow pages +10 ms, 5% answering 503 (Retry-After: 0) once, a fresh site for each run; seconds include starting the processes (plain node, compiled). Every figure is the median of the contender's runs; "vs in-memory" is the median of its per-round ratios (each round runs the fast contenders back to back). crawl() keeps every page's state durable (queue, records, politeness) in SQLite; so does crawlee with its default storage on disk, the reference for memory. Memory is summed over each crawler's processes. CPU s: user + system seconds of all its processes (less sensitive to a busy machine than pages/s). Load: ${loadAverage()}.`,
    );
    writeResult('latest-crawl.json', {
      machine: context.machine,
      sitePages,
      rounds: roundCount,
      speedRatios: Object.fromEntries(speedRatios),
      results: Object.fromEntries(results),
    });
  },
};

export default bench;
