/**
 * Issue 14's benchmark, in one run: hot get (1,000 keys, read-mostly) through the read cache
 * against the floor, Python diskcache and lmdb-js; delete against the floor and Python; Deque
 * append/popLeft per operation and `.async` grouped appends from 100 concurrent callers against
 * Python; the `.async` overhead per operation against the sync call (get/set/delete, inline and
 * file-backed values). Systems are interleaved round by round (the order rotating); each figure
 * is the median over the rounds, each ratio the median of the per-round ratios. Writes
 * `bench/results/latest-perf.json` and the chart `docs/benchmarks-perf.svg` (generated from it).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Cache, type CacheOptions, Deque } from '../src/index.js';
import { type BenchValue, openCache, openLmdb, openRaw, type SyncStore } from './cache-systems.js';
import { keyName, STRIDE, valueFor } from './cache-workload.js';
import { itemValue } from './collections-workload.js';
import {
  BENCH_DIR,
  type BenchContext,
  type BenchModule,
  collectGarbage,
  findPythonDiskcache,
  formatNumber,
  formatRate,
  formatTable,
  freshDirectory,
  loadAverage,
  measure,
  summarize,
  writeResult,
} from './lib.js';
import { PythonWorker } from './python-system.js';

/** One system's figures over the rounds of one operation. */
interface Row {
  readonly operation: string;
  readonly system: string;
  /** Mean µs per op, by round. */
  readonly means: number[];
  /** p50 µs per op, by round. */
  readonly p50s: number[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The median over rounds of this row's mean divided by the reference's mean in the same round. */
function ratio(row: Row, reference: Row | undefined): number {
  if (!reference) return Number.NaN;
  return median(row.means.map((mean, i) => mean / reference.means[i]!));
}

/** The same for the p50s (what a loaded machine moves least). */
function ratio50(row: Row, reference: Row | undefined): number {
  if (!reference) return Number.NaN;
  return median(row.p50s.map((p50, i) => p50 / reference.p50s[i]!));
}

/** "mean× / p50×", or the mean ratio alone when there are no p50s. */
function ratios(row: Row, reference: Row | undefined): string {
  const p50 = ratio50(row, reference);
  const mean = `${formatNumber(ratio(row, reference))}×`;
  return Number.isFinite(p50) ? `${mean} / ${formatNumber(p50)}×` : mean;
}

/** A timed system: runs `ops` calls of the operation from call number `start`, gives µs stats. */
type Runner = (start: number, ops: number) => Promise<{ meanUs: number; p50Us: number }>;

/** Runs every system once per round, rotating the order, and collects rows. */
async function rounds(
  context: BenchContext,
  operation: string,
  systems: readonly (readonly [string, Runner])[],
  roundCount: number,
  ops: number,
): Promise<Row[]> {
  const rows = systems.map(([system]) => ({ operation, system, means: [], p50s: [] }) as Row);
  for (let round = 0; round < roundCount; round++) {
    for (let k = 0; k < systems.length; k++) {
      const index = (round + k) % systems.length;
      const [system, run] = systems[index]!;
      context.progress(`perf: ${operation}, ${system}, round ${round + 1}/${roundCount}`);
      collectGarbage();
      const stats = await run(round * ops, ops);
      rows[index]!.means.push(stats.meanUs);
      rows[index]!.p50s.push(stats.p50Us);
    }
  }
  return rows;
}

/** A synchronous store timed in-process with `measure`. */
function syncRunner(fn: (i: number) => unknown, warmup: number): Runner {
  return async (start, ops) => measure((i) => fn(start + i), { ops, warmup });
}

/** Times an async call per op, each awaited before the next. */
function asyncRunner(fn: (i: number) => Promise<unknown>, warmup: number): Runner {
  return async (start, ops) => {
    for (let i = 0; i < warmup; i++) await fn(start + i);
    const ns = new Float64Array(ops);
    for (let i = 0; i < ops; i++) {
      const begin = process.hrtime.bigint();
      await fn(start + warmup + i);
      ns[i] = Number(process.hrtime.bigint() - begin);
    }
    return summarize(ns);
  };
}

/** A Python worker's operation, timed per call in Python. */
function pythonRunner(worker: PythonWorker, op: string, warmup: number): Runner {
  return async (start, ops) => {
    const answer = await worker.send({ cmd: 'run', op, start, warmup, ops, maxMs: 60_000 });
    return summarize(answer.samples as number[]);
  };
}

/** Opens a Cache-backed SyncStore with options. */
function cacheStore(directory: string, options: CacheOptions): SyncStore {
  const opened = openCache(directory, options);
  if (!('store' in opened)) throw new Error(opened.missing);
  return opened.store;
}

interface Opened {
  readonly close: () => Promise<void>;
}

/** The hot-get row of the read cache validated by `PRAGMA data_version` (the addon off). */
const DATA_VERSION_ROW = 'this Cache (read cache, data_version)';

/** The delete row with checkpoints every 8,000 WAL pages instead of SQLite's 1,000. */
const WAL_8000_ROW = 'this Cache, walAutocheckpoint: 8000';

/** A key-value section (hot get, delete): every system on its own fresh directory of `keys` keys. */
async function keyValueSection(
  context: BenchContext,
  operation: 'getHit' | 'delete',
  keys: number,
  roundCount: number,
  ops: number,
  notes: string[],
): Promise<Row[]> {
  const value = valueFor('buffer', 0);
  const names = Array.from({ length: keys }, (_, i) => keyName(i));
  const key = (i: number) => names[(i * STRIDE) % keys]!;
  const opened: Opened[] = [];
  const systems: [string, Runner][] = [];
  const warmup = operation === 'getHit' ? 2000 : 0;
  const addStore = (system: string, store: SyncStore, remove: () => void) => {
    for (let start = 0; start < keys; start += 1000)
      store.transact(() => {
        for (let i = start; i < Math.min(keys, start + 1000); i++) store.set(names[i]!, value);
      });
    const fn =
      operation === 'getHit'
        ? (i: number) => store.get(key(i))
        : (i: number) => store.delete(key(i));
    systems.push([system, syncRunner(fn, warmup)]);
    opened.push({
      close: async () => {
        await store.close();
        remove();
      },
    });
  };
  const dir = () => freshDirectory('perf');
  let d = dir();
  addStore('this Cache (read cache)', cacheStore(d.directory, {}), d.remove);
  if (operation === 'getHit') {
    // The read cache as it was before the WAL-index validator: the addon off for this open.
    d = dir();
    process.env.DISKCACHE_NATIVE = 'off';
    try {
      addStore(DATA_VERSION_ROW, cacheStore(d.directory, {}), d.remove);
    } finally {
      delete process.env.DISKCACHE_NATIVE;
    }
    d = dir();
    addStore(
      'this Cache, readCache: false',
      cacheStore(d.directory, { readCache: false }),
      d.remove,
    );
  }
  if (operation === 'delete') {
    // Fewer checkpoints: the one lever left on delete's time (see docs/benchmarks.md).
    d = dir();
    addStore(
      WAL_8000_ROW,
      cacheStore(d.directory, { sqlite: { walAutocheckpoint: 8000 } }),
      d.remove,
    );
  }
  d = dir();
  const raw = openRaw(d.directory);
  if ('store' in raw) addStore('raw SQLite (floor)', raw.store, d.remove);
  if (operation === 'getHit') {
    d = dir();
    const lmdb = await openLmdb(d.directory, { noSync: false });
    if ('store' in lmdb) addStore('lmdb-js', lmdb.store, d.remove);
    else notes.push(lmdb.missing);
  }
  const python = findPythonDiskcache();
  if ('python' in python) {
    d = dir();
    const worker = new PythonWorker(python.python);
    await worker.send({
      cmd: 'open',
      directory: d.directory,
      keys,
      stride: STRIDE,
      value: 'buffer',
    });
    systems.push(['Python diskcache', pythonRunner(worker, operation, warmup)]);
    const remove = d.remove;
    opened.push({
      close: async () => {
        await worker.close();
        remove();
      },
    });
  } else notes.push(python.missing);
  try {
    const label = operation === 'getHit' ? 'hot get (1,000 keys)' : 'delete';
    return await rounds(context, label, systems, roundCount, ops);
  } finally {
    for (const item of opened) await item.close();
  }
}

/** Deque: per-op append/popLeft (sync and `.async`), and 100 concurrent `.async` appends. */
async function dequeSection(
  context: BenchContext,
  roundCount: number,
  ops: number,
  notes: string[],
): Promise<Row[]> {
  const value = itemValue(0);
  const d1 = freshDirectory('perf-deque');
  const deque = new Deque<string>(d1.directory);
  const CONCURRENT = 100;
  const grouped: Runner = async (_start, total) => {
    const batches = Math.max(1, Math.floor(total / CONCURRENT));
    const ns = new Float64Array(batches);
    for (let b = 0; b < batches; b++) {
      const begin = process.hrtime.bigint();
      await Promise.all(Array.from({ length: CONCURRENT }, () => deque.async.append(value)));
      ns[b] = Number(process.hrtime.bigint() - begin);
    }
    return summarize(ns, CONCURRENT);
  };
  const appendSystems: [string, Runner][] = [
    ['Deque.append (sync)', syncRunner(() => deque.append(value), 50)],
    ['deque.async.append, awaited one by one', asyncRunner(() => deque.async.append(value), 50)],
    [`deque.async.append, ${CONCURRENT} concurrent callers`, grouped],
  ];
  const popSystems: [string, Runner][] = [
    ['Deque.popLeft (sync)', syncRunner(() => deque.popLeft(), 0)],
  ];
  const python = findPythonDiskcache();
  let worker: PythonWorker | undefined;
  const d2 = freshDirectory('perf-pydeque');
  const d3 = freshDirectory('perf-pyindex');
  if ('python' in python) {
    worker = new PythonWorker(python.python, 'python_collections.py');
    await worker.send({
      cmd: 'open',
      deque: d2.directory,
      index: d3.directory,
      keys: 1000,
      stride: STRIDE,
    });
    appendSystems.push(['Python Deque.append', pythonRunner(worker, 'append', 50)]);
    popSystems.push(['Python Deque.popleft', pythonRunner(worker, 'popLeft', 0)]);
  } else notes.push(python.missing);
  try {
    const rows = await rounds(context, 'Deque append', appendSystems, roundCount, ops);
    // Everything appended above is there to pop (each system popped `ops` per round at most).
    rows.push(...(await rounds(context, 'Deque popLeft', popSystems, roundCount, ops)));
    return rows;
  } finally {
    deque.close();
    await worker?.close();
    d1.remove();
    d2.remove();
    d3.remove();
  }
}

/** `.async` against the sync call, per operation, awaited one by one. */
async function asyncOverheadSection(
  context: BenchContext,
  roundCount: number,
  ops: number,
): Promise<Row[]> {
  const d = freshDirectory('perf-async');
  const cache = new Cache(d.directory);
  const small = valueFor('buffer', 0);
  const large = Buffer.alloc(100_000, 5); // a value file (minFileSize is 32 KiB)
  const keys = 1000;
  const names = Array.from({ length: keys }, (_, i) => keyName(i));
  const key = (i: number) => names[(i * STRIDE) % keys]!;
  cache.transact(() => {
    for (const name of names) cache.set(name, small);
  });
  for (let i = 0; i < 50; i++) cache.set(`large-${i}`, large);
  const largeKey = (i: number) => `large-${i % 50}`;
  const rows: Row[] = [];
  try {
    /** The sync call and its `.async` twin, awaited one by one. */
    const pair = (
      operation: string,
      sync: (i: number) => unknown,
      async: (i: number) => Promise<unknown>,
      warmup: number,
    ): [string, [string, Runner][]] => [
      operation,
      [
        ['sync', syncRunner(sync, warmup)],
        ['.async', asyncRunner(async, warmup)],
      ],
    ];
    const calls: [string, 'get' | 'set', (i: number) => string, BenchValue, number][] = [
      ['get (1 KB, read cache)', 'get', key, small, 1000],
      ['set (1 KB)', 'set', key, small, 50],
      ['get (100 KB file)', 'get', largeKey, large, 20],
      ['set (100 KB file)', 'set', largeKey, large, 10],
    ];
    const pairs = calls.map(([operation, method, keyOf, value, warmup]) =>
      method === 'get'
        ? pair(
            operation,
            (i) => cache.get(keyOf(i)),
            (i) => cache.async.get(keyOf(i)),
            warmup,
          )
        : pair(
            operation,
            (i) => cache.set(keyOf(i), value),
            (i) => cache.async.set(keyOf(i), value),
            warmup,
          ),
    );
    pairs.push(
      pair(
        'delete + set back (1 KB)',
        (i) => {
          cache.delete(key(i));
          cache.set(key(i), small);
        },
        async (i) => {
          await cache.async.delete(key(i));
          await cache.async.set(key(i), small);
        },
        20,
      ),
    );
    for (const [operation, systems] of pairs) {
      const opsHere = operation.includes('100 KB') ? Math.max(50, Math.floor(ops / 20)) : ops;
      rows.push(...(await rounds(context, `async: ${operation}`, systems, roundCount, opsHere)));
    }
    return rows;
  } finally {
    cache.close();
    d.remove();
  }
}

/** One long-lived process of the mixed workload: `go()` runs its operations, gives ms. */
interface MixedProcess {
  go(): Promise<number>;
  close(): Promise<void>;
}

/** A mixed-workload process over its message channel: `next` gives its next answer. */
function mixedProcess(
  child: ChildProcess,
  next: () => Promise<unknown>,
  send: (command: 'go' | 'exit') => void,
  parse: (answer: unknown) => number,
): { ready: Promise<unknown>; process: MixedProcess } {
  const ready = next();
  return {
    ready,
    process: {
      go: async () => {
        const answer = next();
        send('go');
        return parse(await answer);
      },
      close: async () => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        send('exit');
        await exited;
      },
    },
  };
}

function nodeMixed(directory: string, readCache: 'on' | 'off', ops: number, seed: number) {
  const child: ChildProcess = fork(
    path.join(BENCH_DIR, 'perf-mixed-child.ts'),
    [directory, readCache, String(ops), String(seed)],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`perf-mixed-child exited (${code})`)));
    });
  return mixedProcess(
    child,
    next,
    (command) => child.send(command),
    (answer) => (answer as { ms: number }).ms,
  );
}

function pythonMixed(python: string, directory: string, ops: number, seed: number) {
  const child = spawn(
    python,
    [path.join(BENCH_DIR, 'python_mixed.py'), directory, String(ops), String(seed)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  child.once('exit', () => lines.close());
  return mixedProcess(
    child,
    () => new Promise<string>((resolve) => waiting.push(resolve)),
    (command) => (command === 'go' ? child.stdin.write('go\n') : child.stdin.end('exit\n')),
    Number,
  );
}

/** 4 processes, each 90% get / 10% set over 1,000 shared keys; µs per op from the wall time. */
async function mixedSection(
  context: BenchContext,
  roundCount: number,
  ops: number,
  notes: string[],
): Promise<Row[]> {
  const PROCESSES = 4;
  const value = valueFor('buffer', 0);
  const systems: [string, Runner][] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const open = async (
    system: string,
    start: (directory: string, seed: number) => { ready: Promise<unknown>; process: MixedProcess },
  ) => {
    const d = freshDirectory('perf-mixed');
    const cache = new Cache(d.directory);
    cache.transact(() => {
      for (let i = 0; i < 1000; i++) cache.set(keyName(i), value);
    });
    cache.close();
    const started = Array.from({ length: PROCESSES }, (_, p) => start(d.directory, 12345 + p));
    await Promise.all(started.map((item) => item.ready));
    const processes = started.map((item) => item.process);
    systems.push([
      system,
      async () => {
        const begin = performance.now();
        await Promise.all(processes.map((item) => item.go()));
        const us = ((performance.now() - begin) * 1000) / (PROCESSES * ops);
        return { meanUs: us, p50Us: Number.NaN };
      },
    ]);
    cleanups.push(async () => {
      for (const item of processes) await item.close();
      d.remove();
    });
  };
  try {
    await open('this Cache (read cache)', (dir, seed) => nodeMixed(dir, 'on', ops, seed));
    await open('this Cache, readCache: false', (dir, seed) => nodeMixed(dir, 'off', ops, seed));
    const python = findPythonDiskcache();
    if ('python' in python)
      await open('Python diskcache', (dir, seed) => pythonMixed(python.python, dir, ops, seed));
    else notes.push(python.missing);
    return await rounds(context, '4 processes, 90% get / 10% set', systems, roundCount, ops);
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

// ---- the chart ------------------------------------------------------------------------------------

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly highlight: boolean;
}
interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A horizontal bar chart, one panel per operation, as an SVG document. */
export function barChartSvg(title: string, subtitle: string, panels: readonly Panel[]): string {
  const width = 760;
  const labelWidth = 300;
  const barArea = width - labelWidth - 90;
  const barHeight = 18;
  const gap = 6;
  let y = 56;
  const parts: string[] = [];
  for (const panel of panels) {
    parts.push(
      `<text x="10" y="${y}" font-weight="bold">${escapeXml(panel.title)} <tspan font-weight="normal" fill="#555">(${escapeXml(panel.unit)})</tspan></text>`,
    );
    y += 10;
    const max = Math.max(...panel.bars.map((bar) => bar.value).filter(Number.isFinite), 1e-9);
    for (const bar of panel.bars) {
      const w = Number.isFinite(bar.value) ? Math.max(1, (bar.value / max) * barArea) : 0;
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 13}" text-anchor="end">${escapeXml(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${bar.highlight ? '#2b6cb0' : '#a0aec0'}"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 13}">${escapeXml(formatNumber(bar.value))}</text>`,
      );
      y += barHeight + gap;
    }
    y += 22;
  }
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="10" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

// ---- the module ----------------------------------------------------------------------------------

const perf: BenchModule = {
  name: 'perf',
  title:
    'Issue 14: hot get (read cache) vs floor/Python/lmdb-js, delete, Deque per-op and grouped .async appends vs Python, .async overhead',
  async run(context) {
    const quick = context.quick;
    const roundCount = quick ? 3 : 5;
    const notes: string[] = [];
    const loadBefore = loadAverage();
    const hot = await keyValueSection(
      context,
      'getHit',
      1000,
      roundCount,
      quick ? 20_000 : 100_000,
      notes,
    );
    const deletes = await keyValueSection(
      context,
      'delete',
      quick ? 10_000 : 40_000,
      roundCount,
      quick ? 1_000 : 4_000,
      notes,
    );
    const deque = await dequeSection(context, roundCount, quick ? 500 : 3_000, notes);
    const overhead = await asyncOverheadSection(context, roundCount, quick ? 1_000 : 5_000);
    const mixed = await mixedSection(context, roundCount, quick ? 5_000 : 25_000, notes);
    const loadAfter = loadAverage();

    const find = (rows: Row[], system: string) => rows.find((row) => row.system === system);
    const report = (rows: Row[], references: [string, string][]) => {
      const columns = [
        { header: 'operation', align: 'left' as const },
        { header: 'system', align: 'left' as const },
        { header: 'mean µs', align: 'right' as const },
        { header: 'p50 µs', align: 'right' as const },
        { header: 'ops/s', align: 'right' as const },
        ...references.map(([label]) => ({
          header: `time vs ${label} (mean / p50)`,
          align: 'right' as const,
        })),
        { header: 'mean µs by round', align: 'left' as const },
      ];
      const table = rows.map((row) => {
        const mean = median(row.means);
        return [
          row.operation,
          row.system,
          formatNumber(mean),
          formatNumber(median(row.p50s)),
          formatRate(1e6 / mean),
          ...references.map(([, system]) => ratios(row, find(rows, system))),
          row.means.map(formatNumber).join(' / '),
        ];
      });
      context.log(formatTable(columns, table));
      context.log();
    };
    context.log(`Load average before: ${loadBefore}; after: ${loadAfter}. ${roundCount} rounds.`);
    context.log();
    report(hot, [
      ['floor', 'raw SQLite (floor)'],
      ['Python', 'Python diskcache'],
      ['lmdb-js', 'lmdb-js'],
    ]);
    report(deletes, [
      ['floor', 'raw SQLite (floor)'],
      ['Python', 'Python diskcache'],
    ]);
    const appends = deque.filter((row) => row.operation === 'Deque append');
    const pops = deque.filter((row) => row.operation === 'Deque popLeft');
    report(appends, [
      ['Python', 'Python Deque.append'],
      ['sync', 'Deque.append (sync)'],
    ]);
    report(pops, [['Python', 'Python Deque.popleft']]);
    report(mixed, [
      ['Python', 'Python diskcache'],
      ['no read cache', 'this Cache, readCache: false'],
    ]);
    for (const operation of [...new Set(overhead.map((row) => row.operation))])
      report(
        overhead.filter((row) => row.operation === operation),
        [['sync', 'sync']],
      );
    for (const note of notes) context.log(`- ${note}`);

    const hotRatio = (system: string, reference: string) =>
      ratio(find(hot, system)!, find(hot, reference));
    const targets = {
      hotGetVsFloor: ratio(find(hot, 'this Cache (read cache)')!, find(hot, 'raw SQLite (floor)')),
      hotGetVsFloorP50: ratio50(
        find(hot, 'this Cache (read cache)')!,
        find(hot, 'raw SQLite (floor)'),
      ),
      hotGetVsLmdb: ratio(find(hot, 'this Cache (read cache)')!, find(hot, 'lmdb-js')),
      // Before and after the WAL-index validator, in the same run.
      hotGetVsDataVersion: hotRatio('this Cache (read cache)', DATA_VERSION_ROW),
      hotGetDataVersionVsFloor: hotRatio(DATA_VERSION_ROW, 'raw SQLite (floor)'),
      deleteVsPython: ratio(
        find(deletes, 'this Cache (read cache)')!,
        find(deletes, 'Python diskcache'),
      ),
      deleteWal8000VsPython: ratio(find(deletes, WAL_8000_ROW)!, find(deletes, 'Python diskcache')),
      mixedVsPython: ratio(
        find(mixed, 'this Cache (read cache)')!,
        find(mixed, 'Python diskcache'),
      ),
      groupedAppendRateVsPython:
        1 /
        ratio(
          find(appends, 'deque.async.append, 100 concurrent callers')!,
          find(appends, 'Python Deque.append'),
        ),
    };
    context.log();
    context.log(
      `- target hot get ≤ 0.4× the floor's time: ${formatNumber(targets.hotGetVsFloor)}× (p50: ${formatNumber(targets.hotGetVsFloorP50)}×; lmdb-js: ${formatNumber(targets.hotGetVsLmdb)}×; the data_version validator: ${formatNumber(targets.hotGetDataVersionVsFloor)}× the floor, the WAL-index one ${formatNumber(targets.hotGetVsDataVersion)}× its time)`,
    );
    context.log(
      `- target delete ≤ 0.6× Python's time: ${formatNumber(targets.deleteVsPython)}× (with walAutocheckpoint: 8000, ${formatNumber(targets.deleteWal8000VsPython)}×)`,
    );
    context.log(
      `- target grouped .async appends (100 callers) ≥ 5× Python's append rate: ${formatNumber(targets.groupedAppendRateVsPython)}×`,
    );

    const all = [...hot, ...deletes, ...deque, ...mixed, ...overhead];
    const result = {
      machine: context.machine,
      load: { before: loadBefore, after: loadAfter },
      rounds: roundCount,
      quick,
      rows: all.map((row) => ({ ...row, meanUs: median(row.means), p50Us: median(row.p50s) })),
      targets,
      notes,
    };
    writeResult(quick ? 'quick-perf.json' : 'latest-perf.json', result);
    const chart = barChartSvg(
      'node-diskcache: issue 14 benchmark (p50 µs per operation, median of rounds; lower is better)',
      `${context.machine.cpu}, ${context.machine.cores} cores — load average ${loadBefore} → ${loadAfter}; ${roundCount} rounds`,
      [
        {
          title: 'hot get, 1,000 keys, 1 KB values',
          unit: 'µs',
          bars: bars(hot, 'this Cache (read cache)'),
        },
        { title: 'delete', unit: 'µs', bars: bars(deletes, 'this Cache (read cache)') },
        {
          title: 'Deque append, per item',
          unit: 'µs',
          bars: bars(appends, 'deque.async.append, 100 concurrent callers'),
        },
        { title: 'Deque popLeft', unit: 'µs', bars: bars(pops, 'Deque.popLeft (sync)') },
        {
          title: '4 processes, 90% get / 10% set (wall time per operation)',
          unit: 'µs',
          bars: bars(mixed, 'this Cache (read cache)'),
        },
      ],
    );
    const chartPath = quick
      ? path.join(BENCH_DIR, 'results', 'quick-perf.svg')
      : path.join(BENCH_DIR, '..', 'docs', 'benchmarks-perf.svg');
    fs.writeFileSync(chartPath, chart);
    context.log(`- chart: ${path.relative(process.cwd(), chartPath)}`);
  },
};

/** Bars of the p50s (the means of a loaded machine are mostly its stalls), else the means. */
function bars(rows: readonly Row[], highlight: string): Bar[] {
  return rows.map((row) => ({
    label: row.system,
    value: Number.isFinite(median(row.p50s)) ? median(row.p50s) : median(row.means),
    highlight: row.system === highlight,
  }));
}

export default perf;
