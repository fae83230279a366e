/**
 * Crawl benchmark: pages per second and peak memory of `crawl()` on the built-in demo site (2,000
 * pages on 127.0.0.1) with 1, 2 and 4 worker processes, beside crawlee's CheerioCrawler (storage
 * in memory) and a bare in-memory undici crawler (same parser, nothing durable), in one run.
 * Memory is summed over each contender's processes (RSS, and PSS where /proc gives it: shared
 * pages counted once), sampled every 100 ms. Each contender runs in a child of its own
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

interface Outcome {
  readonly pages: number;
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly peakPssMiB: number | undefined;
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
    const sampler = setInterval(() => {
      let rss = 0;
      let pss: number | undefined = 0;
      for (const pid of processTree(child.pid!)) {
        const memory = memoryOf(pid);
        rss += memory.rss;
        pss = pss === undefined || memory.pss === undefined ? undefined : pss + memory.pss;
      }
      peakRss = Math.max(peakRss, rss);
      if (pss !== undefined) peakPss = Math.max(peakPss ?? 0, pss);
    }, 100);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      if (code !== 0) return reject(new Error(`crawl-child ${args.join(' ')} exited ${code}`));
      const { pages, seconds } = JSON.parse(output.trim().split('\n').at(-1)!) as {
        pages: number;
        seconds: number;
      };
      resolve({
        pages,
        seconds,
        peakRssMiB: peakRss / 1024,
        peakPssMiB: peakPss === undefined ? undefined : peakPss / 1024,
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
        ],
        rows,
      ),
    );
    context.log(
      `\nDemo site: ${sitePages} pages, slow pages +10 ms; seconds include starting the processes (plain node, compiled). crawl() keeps every page's state durable (queue, records, politeness) in SQLite. Memory is summed over each crawler's processes. Load: ${loadAverage()}.`,
    );
    writeResult('latest-crawl.json', { machine: context.machine, sitePages, results });
  },
};

export default bench;
