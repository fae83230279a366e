/**
 * The benchmark harness: timing (`measure`), summary statistics, the table printer, the machine
 * line and the shape of a benchmark module that `bench/run.ts` discovers (`bench/*.bench.ts`).
 * It measures and prints; it never asserts a time, and it must not import benchmark modules.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');

// ---- statistics -------------------------------------------------------------------------------

/** Summary of the per-operation times of one measurement, in microseconds. */
export interface Stats {
  /** Samples taken (operations, or batches of operations: see `batch`). */
  readonly samples: number;
  /** Operations each sample covered: 1 for per-op sampling, more for batched timing. */
  readonly batch: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly opsPerSecond: number;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * Stats of samples given in nanoseconds per sample, each covering `opsPerSample` operations.
 * The same function summarises Node's and Python's samples, so both use one definition.
 */
export function summarize(samplesNs: ArrayLike<number>, opsPerSample = 1): Stats {
  const sorted = Float64Array.from(samplesNs).sort();
  let total = 0;
  for (const sample of sorted) total += sample;
  const perOpUs = (ns: number) => ns / opsPerSample / 1000;
  const meanUs = sorted.length === 0 ? Number.NaN : perOpUs(total / sorted.length);
  return {
    samples: sorted.length,
    batch: opsPerSample,
    meanUs,
    p50Us: perOpUs(percentile(sorted, 0.5)),
    p99Us: perOpUs(percentile(sorted, 0.99)),
    opsPerSecond: 1e6 / meanUs,
  };
}

// ---- timing -----------------------------------------------------------------------------------

/** How `measure` runs an operation. */
export interface MeasureOptions {
  /** Operations to time (after warm-up). */
  readonly ops: number;
  /** Operations run first and not timed (JIT, page cache, statement cache). @default 0 */
  readonly warmup?: number;
  /**
   * Calls timed together as one sample. `'auto'` times each call alone unless a warm-up call
   * takes under 1 µs, then batches enough calls for a sample of about 5 µs, so that the ~40 ns
   * of the timer itself does not dominate. p50/p99 are then of batch means.
   * @default 'auto'
   */
  readonly batch?: number | 'auto';
  /** Operations that one call of `fn` performs (e.g. 1000 sets in one transaction). @default 1 */
  readonly opsPerCall?: number;
  /** Stop timing after this many milliseconds even if fewer than `ops` ran. @default Infinity */
  readonly maxMs?: number;
}

/** Collects garbage between measurements when the runtime allows it (keeps GC out of samples). */
export const collectGarbage: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    return typeof gc === 'function' ? gc : () => {};
  } catch {
    return () => {};
  }
})();

/** Raw timings: nanoseconds per sample, each sample covering `batch` calls. */
export interface Samples {
  readonly ns: Float64Array;
  readonly batch: number;
  /**
   * CPU time (user + system, nanoseconds) this process spent over the timed calls: unlike the
   * wall-clock samples, it barely moves when other processes compete for the cores. Absent for
   * samples taken elsewhere (e.g. in a child process that does not report it).
   */
  readonly cpuNs?: number;
}

/**
 * Times `fn(i)` with `process.hrtime.bigint()` around each call (or each batch of calls). `i`
 * counts calls from `start` (default 0), warm-up first, so the timed calls use indices
 * start+warmup.. and a benchmark can give each call its own key.
 */
export function sample(
  fn: (index: number) => unknown,
  options: MeasureOptions & { readonly start?: number },
): Samples {
  const { ops, warmup = 0, maxMs = Number.POSITIVE_INFINITY } = options;
  collectGarbage();
  let index = options.start ?? 0;
  const warmStart = process.hrtime.bigint();
  for (let k = 0; k < warmup; k++) fn(index++);
  const warmNsPerCall =
    warmup > 0 ? Number(process.hrtime.bigint() - warmStart) / warmup : Number.POSITIVE_INFINITY;
  let batch = options.batch ?? 'auto';
  if (batch === 'auto')
    batch = warmNsPerCall < 1000 ? Math.max(1, Math.ceil(5000 / warmNsPerCall)) : 1;
  const sampleCount = Math.max(1, Math.floor(ops / batch));
  const ns = new Float64Array(sampleCount);
  const deadline =
    process.hrtime.bigint() + BigInt(Math.min(Math.round(maxMs * 1e6), Number.MAX_SAFE_INTEGER));
  let taken = 0;
  const cpuBefore = process.cpuUsage();
  while (taken < sampleCount) {
    const begin = process.hrtime.bigint();
    for (let k = 0; k < batch; k++) fn(index++);
    const end = process.hrtime.bigint();
    ns[taken++] = Number(end - begin);
    if (end > deadline) break;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { ns: ns.subarray(0, taken), batch, cpuNs: (cpu.user + cpu.system) * 1000 };
}

/** `sample` then `summarize`: the per-operation statistics of `fn`. */
export function measure(fn: (index: number) => unknown, options: MeasureOptions): Stats {
  const { ns, batch } = sample(fn, options);
  return summarize(ns, batch * (options.opsPerCall ?? 1));
}

/** Concatenates sample arrays (e.g. of several interleaved rounds of one measurement). */
export function concatSamples(parts: readonly ArrayLike<number>[]): Float64Array {
  const all = new Float64Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

// ---- machine ----------------------------------------------------------------------------------

/** What the numbers were measured on. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly node: string;
  readonly sqlite: string;
  readonly betterSqlite3: string;
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version()').pluck().get() as string;
  db.close();
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    sqlite,
    betterSqlite3: packageVersion('better-sqlite3'),
  };
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node}, SQLite ${m.sqlite} (better-sqlite3 ${m.betterSqlite3})`;
}

/**
 * The 1/5/15-minute load averages. Other processes share this machine's cores: a load above the
 * core count means the timings include waiting for a CPU, so print it with every result.
 */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
}

// ---- output -----------------------------------------------------------------------------------

/** One table column: a header and how to align it. */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

/** A Markdown table (readable as plain text too), columns padded to their widest cell. */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const pad = (text: string, i: number) =>
    columns[i]!.align === 'left' ? text.padEnd(widths[i]!) : text.padStart(widths[i]!);
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => pad(cell, i)).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (columns[i]!.align === 'left' ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(columns.map((column) => column.header)), rule, ...rows.map(line)].join('\n');
}

/** A number with about three significant digits (µs, ratios). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** A rate in operations per second, rounded to thousands above 10k. */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 10_000) return `${Math.round(value / 1000).toLocaleString('en-US')}k`;
  return Math.round(value).toLocaleString('en-US');
}

/** Writes `data` as JSON to bench/results/<file> and returns the path. */
export function writeResult(file: string, data: unknown): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const target = path.join(RESULTS_DIR, file);
  fs.writeFileSync(target, `${JSON.stringify(data, null, 2)}\n`);
  return target;
}

/** A fresh empty directory under the OS temp dir; removed by the returned function. */
export function freshDirectory(label: string): { directory: string; remove: () => void } {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), `diskcache-bench-${label}-`));
  return { directory, remove: () => fs.rmSync(directory, { recursive: true, force: true }) };
}

// ---- references outside Node -------------------------------------------------------------------

/** The system Python that can import diskcache (Debian's python3-diskcache), or why not. */
export function findPythonDiskcache(): { python: string; version: string } | { missing: string } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const result = spawnSync(
      python,
      ['-c', 'import diskcache, sys; print(diskcache.__version__, sys.version.split()[0])'],
      {
        encoding: 'utf8',
      },
    );
    if (result.status === 0) {
      const [diskcache, pythonVersion] = result.stdout.trim().split(' ');
      return { python, version: `diskcache ${diskcache} on Python ${pythonVersion}` };
    }
  }
  return {
    missing:
      'Python diskcache not found (apt-get install -y python3-diskcache; used through /usr/bin/python3)',
  };
}

/**
 * Imports a benchmark-only package from bench/node_modules, or says why it cannot. The name is
 * a runtime string so that type-checking the repository never needs bench's dependencies.
 */
export async function importOptional<T>(
  name: string,
): Promise<{ module: T; version: string } | { missing: string }> {
  try {
    const module = (await import(name)) as T;
    const manifest = path.join(BENCH_DIR, 'node_modules', name, 'package.json');
    const version = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version;
    return { module, version };
  } catch (error) {
    return {
      missing: `${name} is not installed in bench/node_modules (npm ci --prefix bench): ${(error as Error).message.split('\n')[0]}`,
    };
  }
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Resolves when a forked worker exits with code 0; rejects with how it ended otherwise. */
export function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) =>
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`worker exited with ${signal ?? code}`)),
    ),
  );
}

// ---- the library as users run it ---------------------------------------------------------------

/** The library's exports (as compiled by `buildLibrary`). */
export type Library = typeof import('../src/index.js');

/**
 * Compiles src/ with the project's build settings into .tmp/bench-dist and imports it, so that
 * the runner's workers run as plain JavaScript (a TypeScript loader costs a few hundred ms of CPU
 * per process start).
 */
export async function buildLibrary(): Promise<Library> {
  const root = path.dirname(BENCH_DIR);
  const build = path.join(root, '.tmp', 'bench-dist');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(
    process.execPath,
    [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', build],
    { cwd: root, encoding: 'utf8' },
  );
  if (result.status !== 0)
    throw new Error(
      `tsc failed building the library for the benchmark:\n${result.stdout}${result.stderr}`,
    );
  return (await import(pathToFileURL(path.join(build, 'index.js')).href)) as Library;
}

// ---- benchmark modules --------------------------------------------------------------------------

/** What `bench/run.ts` hands each benchmark. */
export interface BenchContext {
  /** `--quick`: fewer keys and operations, for a smoke run (< 30 s for everything). */
  readonly quick: boolean;
  readonly machine: Machine;
  /** Prints a line of the report (stdout). */
  readonly log: (line?: string) => void;
  /** Says what is running now (stderr, not part of the report). */
  readonly progress: (text: string) => void;
}

/**
 * A benchmark: one `bench/<name>.bench.ts` file whose default export is this. `run.ts` runs
 * every such file in name order, or those named by `--only`.
 */
export interface BenchModule {
  /** The `--only` name, e.g. 'cache'. */
  readonly name: string;
  /** One line saying what is compared. */
  readonly title: string;
  run(context: BenchContext): Promise<void>;
}
