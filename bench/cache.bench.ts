/**
 * Engine benchmark: get hit/miss, set (overwrite), delete and sets inside one transaction, 1 KB
 * values over 100k keys, for this Cache, the raw-SQLite floor on the same schema, Python's
 * diskcache and lmdb-js. Operations are interleaved (each operation runs in rounds, every system
 * in turn in each round, the order rotating), so background load falls on all systems alike.
 * It reports; it never asserts a time and never tunes a contender.
 */
import { type Opened, openCache, openLmdb, openRaw, type SyncStore } from './cache-systems.js';
import {
  OPERATION_LABELS,
  OPERATIONS,
  type Operation,
  STRIDE,
  TRANSACT_BATCH,
  type ValueKind,
  Workload,
} from './cache-workload.js';
import {
  type BenchContext,
  type BenchModule,
  concatSamples,
  findPythonDiskcache,
  formatNumber,
  formatRate,
  formatTable,
  freshDirectory,
  loadAverage,
  machineLine,
  type Samples,
  type Stats,
  sample,
  summarize,
  writeResult,
} from './lib.js';
import { PythonWorker } from './python-system.js';

/** How much of each operation to run for one table. */
interface Plan {
  readonly value: ValueKind;
  readonly keys: number;
  readonly ops: Record<Operation, { readonly ops: number; readonly warmup: number }>;
  /** Cap per (system, operation), for contenders that fsync every write (lmdb-js by default). */
  readonly maxMs: number;
  /**
   * Each operation is split into this many rounds, each round running on every system in turn,
   * so a burst of background load does not land on one system only. Samples are pooled.
   */
  readonly rounds: number;
}

/** The full run: the default (Buffer) table, then a smaller string table. About 2–3 minutes. */
const FULL: readonly Plan[] = [
  {
    value: 'buffer',
    keys: 100_000,
    ops: {
      getHit: { ops: 100_000, warmup: 5_000 },
      getMiss: { ops: 40_000, warmup: 4_000 },
      set: { ops: 20_000, warmup: 2_000 },
      transact: { ops: 10, warmup: 2 },
      delete: { ops: 16_000, warmup: 1_000 },
    },
    maxMs: 3_000,
    rounds: 10,
  },
  {
    value: 'string',
    keys: 100_000,
    ops: {
      getHit: { ops: 40_000, warmup: 4_000 },
      getMiss: { ops: 20_000, warmup: 2_000 },
      set: { ops: 8_000, warmup: 1_000 },
      transact: { ops: 5, warmup: 1 },
      delete: { ops: 8_000, warmup: 1_000 },
    },
    maxMs: 1_500,
    rounds: 5,
  },
];

/** `--quick`: the default table only, on 20k keys. Under 30 s. */
const QUICK: readonly Plan[] = [
  {
    value: 'buffer',
    keys: 20_000,
    ops: {
      getHit: { ops: 10_000, warmup: 1_000 },
      getMiss: { ops: 4_000, warmup: 500 },
      set: { ops: 3_000, warmup: 300 },
      transact: { ops: 4, warmup: 1 },
      delete: { ops: 2_000, warmup: 200 },
    },
    maxMs: 600,
    rounds: 4,
  },
];

/** The value kind of the headline table. */
const DEFAULT_VALUE: ValueKind = 'buffer';
const VALUE_LABELS: Record<ValueKind, string> = {
  buffer: '1 KB Buffer values (1024 bytes)',
  string: '1 KB string values (1024 ASCII characters)',
};

const FLOOR = 'raw';
const PYTHON = 'python';
const CACHE_LABEL = 'this Cache';
const FLOOR_LABEL = 'raw SQLite (floor)';
const PYTHON_LABEL = 'Python diskcache';
const TARGETS = [
  { operation: 'getHit', maxVsFloor: 1.15 },
  { operation: 'set', maxVsFloor: 1.2 },
] as const;

/** One round of one operation on one system: call indices from `start`, warm-up first. */
interface Round {
  readonly start: number;
  readonly warmup: number;
  readonly ops: number;
  readonly maxMs: number;
  readonly batch: number | 'auto';
}

/** A system in the table, however it runs. */
interface Contender {
  readonly id: string;
  readonly label: string;
  readonly note: string;
  run(operation: Operation, round: Round): Promise<Samples>;
  close(): Promise<void>;
}

const opsPerCall = (operation: Operation) => (operation === 'transact' ? TRANSACT_BATCH : 1);

/** Opens an in-process store in a fresh directory, populates and checks it. */
async function inProcess(
  id: string,
  label: string,
  open: (directory: string) => Opened | Promise<Opened>,
  workload: Workload,
): Promise<Contender | string> {
  const { directory, remove } = freshDirectory(id);
  const opened = await open(directory);
  if ('missing' in opened) {
    remove();
    return opened.missing;
  }
  const store: SyncStore = opened.store;
  try {
    workload.populate(store);
    const hit = store.get(workload.key(0)) as { length?: number } | undefined;
    const hitLength = typeof hit?.length === 'number' ? hit.length : null;
    Workload.check(label, hitLength, store.get('miss-x') !== undefined);
  } catch (error) {
    await store.close();
    remove();
    throw error;
  }
  return {
    id,
    label,
    note: opened.note,
    run: async (operation, round) => sample(workload.call(store, operation), round),
    close: async () => {
      await store.close();
      remove();
    },
  };
}

/** Starts Python diskcache on a fresh directory, populated by Python itself. */
async function python(workload: Workload): Promise<Contender | string> {
  const found = findPythonDiskcache();
  if ('missing' in found) return found.missing;
  const { directory, remove } = freshDirectory(PYTHON);
  const worker = new PythonWorker(found.python);
  try {
    await worker.send({ cmd: 'open', directory, ...workload.config });
    const checked = await worker.send({ cmd: 'check' });
    Workload.check(PYTHON_LABEL, checked.hitLength as number | null, checked.missFound as boolean);
  } catch (error) {
    await worker.close();
    remove();
    throw error;
  }
  return {
    id: PYTHON,
    label: PYTHON_LABEL,
    note: `${found.version} (${found.python}), time.perf_counter_ns per call`,
    run: async (operation, round) => {
      const { start, warmup, ops, maxMs } = round;
      const answer = await worker.send({ cmd: 'run', op: operation, start, warmup, ops, maxMs });
      return {
        ns: Float64Array.from(answer.samples as number[]),
        batch: 1,
        cpuNs: answer.cpuNs as number,
      };
    },
    close: async () => {
      await worker.send({ cmd: 'close' });
      await worker.close();
      remove();
    },
  };
}

/** Stats of one (system, operation), with the CPU time per operation of the process that ran it. */
type Measured = Stats & { readonly cpuUs: number };

/** Runs `operation` on every contender in `plan.rounds` interleaved rounds; pooled stats per contender. */
async function measureInterleaved(
  contenders: readonly Contender[],
  operation: Operation,
  plan: Plan,
): Promise<Map<string, Measured>> {
  const { ops, warmup } = plan.ops[operation];
  const perRound = Math.ceil(ops / plan.rounds);
  const parts = new Map<string, Samples[]>(contenders.map((contender) => [contender.id, []]));
  let start = 0;
  for (let round = 0; round < plan.rounds; round++) {
    // A full warm-up before the first round, a short one before the others (other systems ran meanwhile).
    const roundWarmup = round === 0 ? warmup : Math.floor(warmup / 5);
    // The order rotates each round, so no system always runs first (or right after another).
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
    for (const contender of order) {
      const done = parts.get(contender.id)!;
      const batch = done[0]?.batch ?? 'auto';
      done.push(
        await contender.run(operation, {
          start,
          warmup: roundWarmup,
          ops: perRound,
          maxMs: plan.maxMs / plan.rounds,
          batch,
        }),
      );
    }
    start += roundWarmup + perRound;
  }
  const pooled = new Map<string, Measured>();
  for (const [id, samples] of parts) {
    const perSample = samples[0]!.batch * opsPerCall(operation);
    const stats = summarize(concatSamples(samples.map((part) => part.ns)), perSample);
    const cpuNs = samples.reduce((total, part) => total + (part.cpuNs ?? Number.NaN), 0);
    pooled.set(id, { ...stats, cpuUs: cpuNs / (stats.samples * perSample) / 1000 });
  }
  return pooled;
}

interface Row {
  readonly operation: Operation;
  readonly system: string;
  readonly stats: Measured;
  readonly vsFloor: number;
  readonly vsPython: number;
}

/** Runs every operation on every contender for one value kind. */
async function runPlan(plan: Plan, progress: (text: string) => void) {
  const { value } = plan;
  const workload = new Workload({ keys: plan.keys, stride: STRIDE, value });
  const skipped: string[] = [];
  const contenders: Contender[] = [];
  const add = (opened: Contender | string, label: string) => {
    if (typeof opened === 'string') skipped.push(`${label}: skipped — ${opened}`);
    else contenders.push(opened);
  };
  try {
    progress(`cache: ${value} values: opening and populating each system with ${plan.keys} keys`);
    add(await inProcess('cache', CACHE_LABEL, openCache, workload), CACHE_LABEL);
    add(await inProcess(FLOOR, FLOOR_LABEL, openRaw, workload), FLOOR_LABEL);
    add(await python(workload), PYTHON_LABEL);
    add(
      await inProcess('lmdb', 'lmdb-js', (dir) => openLmdb(dir, { noSync: false }), workload),
      'lmdb-js',
    );
    add(
      await inProcess(
        'lmdb-nosync',
        'lmdb-js noSync',
        (dir) => openLmdb(dir, { noSync: true }),
        workload,
      ),
      'lmdb-js noSync',
    );
    const results = new Map<string, Map<Operation, Measured>>(
      contenders.map((c) => [c.id, new Map()]),
    );
    for (const operation of OPERATIONS) {
      progress(`cache: ${value} values: ${OPERATION_LABELS[operation]}`);
      const stats = await measureInterleaved(contenders, operation, plan);
      for (const contender of contenders)
        results.get(contender.id)!.set(operation, stats.get(contender.id)!);
    }
    const rows: Row[] = [];
    for (const operation of OPERATIONS) {
      const floor = results.get(FLOOR)?.get(operation)?.meanUs ?? Number.NaN;
      const py = results.get(PYTHON)?.get(operation)?.meanUs ?? Number.NaN;
      for (const contender of contenders) {
        const stats = results.get(contender.id)!.get(operation)!;
        rows.push({
          operation,
          system: contender.label,
          stats,
          vsFloor: stats.meanUs / floor,
          vsPython: stats.meanUs / py,
        });
      }
    }
    return {
      value,
      rows,
      skipped,
      systems: contenders.map(({ id, label, note }) => ({ id, label, note })),
    };
  } finally {
    for (const contender of contenders) await contender.close();
  }
}

function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/** "1.10× (p50 1.05×, CPU 1.08×)": the mean ratio, then the two that load disturbs less. */
function ratios({ mean, p50, cpu }: { mean: number; p50: number; cpu: number }): string {
  return `${ratio(mean)} (p50 ${ratio(p50)}, CPU ${ratio(cpu)})`;
}

function table(rows: readonly Row[]): string {
  const columns = [
    { header: 'operation', align: 'left' },
    { header: 'system', align: 'left' },
    { header: 'mean µs' },
    { header: 'p50 µs' },
    { header: 'p99 µs' },
    { header: 'CPU µs' },
    { header: 'ops/s' },
    { header: 'vs floor' },
    { header: 'vs Python' },
    { header: 'samples' },
  ] as const;
  return formatTable(
    columns,
    rows.map((row) => [
      OPERATION_LABELS[row.operation],
      row.system,
      formatNumber(row.stats.meanUs),
      formatNumber(row.stats.p50Us),
      formatNumber(row.stats.p99Us),
      formatNumber(row.stats.cpuUs),
      formatRate(row.stats.opsPerSecond),
      ratio(row.vsFloor),
      ratio(row.vsPython),
      row.stats.batch > 1 ? `${row.stats.samples}×${row.stats.batch}` : String(row.stats.samples),
    ]),
  );
}

/** The lead's targets, checked against the default table: mean ratios, p50 ratios beside them. */
function targets(rows: readonly Row[]) {
  const find = (operation: Operation, system: string) =>
    rows.find((row) => row.operation === operation && row.system === system)?.stats;
  return TARGETS.map(({ operation, maxVsFloor }) => {
    const cache = find(operation, CACHE_LABEL);
    const floor = find(operation, FLOOR_LABEL);
    const py = find(operation, PYTHON_LABEL);
    const ratios = (other: Measured | undefined) => ({
      mean: (cache?.meanUs ?? Number.NaN) / (other?.meanUs ?? Number.NaN),
      p50: (cache?.p50Us ?? Number.NaN) / (other?.p50Us ?? Number.NaN),
      cpu: (cache?.cpuUs ?? Number.NaN) / (other?.cpuUs ?? Number.NaN),
    });
    const vsFloor = ratios(floor);
    const vsPython = ratios(py);
    const met =
      vsFloor.mean <= maxVsFloor && (!Number.isFinite(vsPython.mean) || vsPython.mean < 1);
    return { operation, maxVsFloor, vsFloor, vsPython, met };
  });
}

const cacheBenchmark: BenchModule = {
  name: 'cache',
  title: 'Engine: Cache vs raw SQLite (floor) vs Python diskcache vs lmdb-js, 1 KB values',
  async run({ quick, machine, log, progress }: BenchContext) {
    const plans = quick ? QUICK : FULL;
    const started = Date.now();
    const loadBefore = loadAverage();
    const tables = [];
    for (const plan of plans) {
      const result = await runPlan(plan, progress);
      tables.push(result);
      const headline = plan.value === DEFAULT_VALUE ? ' — the default table' : '';
      log(`### ${VALUE_LABELS[plan.value]}${headline}, ${plan.keys.toLocaleString('en-US')} keys`);
      log();
      log(table(result.rows));
      log();
      for (const line of result.skipped) log(`- ${line}`);
      if (result.skipped.length > 0) log();
    }
    const headline = tables.find((t) => t.value === DEFAULT_VALUE) ?? tables[0]!;
    const checked = targets(headline.rows);
    for (const { operation, maxVsFloor, vsFloor, vsPython, met } of checked) {
      log(
        `Target ${OPERATION_LABELS[operation]}: ≤ ${maxVsFloor}× floor and faster than Python (means). ` +
          `Measured ${ratios(vsFloor)} of the floor, ${ratios(vsPython)} of Python: ${met ? 'met' : 'MISSED'}.`,
      );
    }
    log();
    log('Systems:');
    for (const system of headline.systems) log(`- ${system.label}: ${system.note}`);
    log(
      'Times are per operation (transact: per set; each sample is one 1000-set transaction). ' +
        'CPU µs: CPU time of the process that ran the calls, per operation (not disturbed by other processes waiting for the cores, but blind to disk waits). ' +
        '"vs" columns: this row\'s mean ÷ the other system\'s mean (below 1 is faster). ' +
        'samples: timed calls (N×B: N samples of B calls timed together).',
    );
    const loadAfter = loadAverage();
    log(`Machine: ${machineLine(machine)}`);
    log(
      `Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter} (${machine.cores} cores).`,
    );
    const file = writeResult(quick ? 'quick-cache.json' : 'latest-cache.json', {
      benchmark: 'cache',
      date: new Date().toISOString(),
      quick,
      seconds: Math.round((Date.now() - started) / 1000),
      machine,
      loadAverage: { before: loadBefore, after: loadAfter },
      plans,
      stride: STRIDE,
      transactBatch: TRANSACT_BATCH,
      defaultValue: DEFAULT_VALUE,
      tables,
      targets: checked,
    });
    log(`Results: ${file}`);
  },
};

export default cacheBenchmark;
