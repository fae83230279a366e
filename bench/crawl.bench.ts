/**
 * Crawl benchmark: pages per second and peak memory of `crawl()` on the built-in demo site (2,000
 * pages on 127.0.0.1) with 1, 2 and 4 worker processes, beside crawlee's CheerioCrawler (storage
 * in memory) and a bare in-memory undici crawler (same parser, nothing durable), in one run.
 * Memory is summed over each contender's processes (RSS, and PSS where /proc gives it: shared
 * pages counted once), sampled every 100 ms, and shown per process for crawl() (the parent that
 * supervises, the largest worker); CPU seconds are summed over each contender's processes (from
 * /proc, exact for exited workers). Each contender runs in a child of its own
 * (bench/crawl-child.mjs, plain node on the compiled crawler in dist/, built first); the site runs
 * here. It reports; it never asserts.
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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, 'crawl-child.mjs'), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      // crawlee writes nothing with persistStorage: false; should it, then in a temporary place.
      cwd: os.tmpdir(),
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
  });
}

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
    const site = await startDemoSite({ pages: sitePages, slowMs: 10 });
    const rows: string[][] = [];
    const processRows: string[][] = [];
    const results: Record<string, Outcome> = {};
    try {
      const contenders: [string, string[]][] = [
        [
          'in-memory undici crawler (2 × 16 requests)',
          ['memory', site.url, '2', String(concurrency)],
        ],
        [
          "crawlee's CheerioCrawler (32 requests, memory storage)",
          ['crawlee', site.url, '2', String(concurrency)],
        ],
        ...[1, 2, 4].map((processes): [string, string[]] => [
          `crawl(), ${processes} process${processes > 1 ? 'es' : ''} × ${concurrency}`,
          ['diskcache', site.url, String(processes), String(concurrency)],
        ]),
      ];
      for (const [label, args] of contenders) {
        context.progress(`${label} (load ${loadAverage()})`);
        const outcome = await runContender(args);
        results[label] = outcome;
      }
      const memory = Object.values(results)[0]!;
      const crawlee = Object.values(results)[1]!;
      for (const [label, outcome] of Object.entries(results)) {
        const speed = outcome.pages / outcome.seconds;
        rows.push([
          label,
          String(outcome.pages),
          formatNumber(outcome.seconds),
          formatNumber(speed),
          `${formatNumber(speed / (memory.pages / memory.seconds))}×`,
          formatNumber(outcome.peakRssMiB),
          outcome.peakPssMiB === undefined ? '–' : formatNumber(outcome.peakPssMiB),
          `${formatNumber(outcome.peakRssMiB / crawlee.peakRssMiB)}×`,
          outcome.peakPssMiB === undefined || crawlee.peakPssMiB === undefined
            ? '–'
            : `${formatNumber(outcome.peakPssMiB / crawlee.peakPssMiB)}×`,
          formatNumber(outcome.cpuSeconds.self + outcome.cpuSeconds.children),
        ]);
        if (!label.startsWith('crawl()')) continue;
        const largest = (field: 'rssMiB' | 'pssMiB') =>
          outcome.children.some((peak) => peak[field] === undefined)
            ? undefined
            : Math.max(0, ...outcome.children.map((peak) => peak[field] ?? 0));
        processRows.push([
          label,
          mib(outcome.parent.rssMiB),
          mib(outcome.parent.pssMiB),
          formatNumber(outcome.cpuSeconds.self),
          String(outcome.children.length),
          mib(largest('rssMiB')),
          mib(largest('pssMiB')),
          formatNumber(outcome.cpuSeconds.children),
        ]);
      }
    } finally {
      await site.close();
    }
    context.log(
      formatTable(
        [
          { header: 'crawler', align: 'left' },
          { header: 'pages' },
          { header: 'seconds' },
          { header: 'pages/s' },
          { header: 'vs in-memory' },
          { header: 'peak RSS MiB' },
          { header: 'peak PSS MiB' },
          { header: 'RSS vs crawlee' },
          { header: 'PSS vs crawlee' },
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
      `\nDemo site: ${sitePages} pages, slow pages +10 ms; seconds include starting the processes (plain node, compiled). crawl() keeps every page's state durable (queue, records, politeness) in SQLite. Memory is summed over each crawler's processes. CPU s: user + system seconds of all its processes (less sensitive to a busy machine than pages/s). Load: ${loadAverage()}.`,
    );
    writeResult('latest-crawl.json', { machine: context.machine, sitePages, results });
  },
};

export default bench;
