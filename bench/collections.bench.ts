/**
 * Collections benchmark: Deque append/popLeft/extend and Index set/get against the raw-SQLite
 * floor and Python's diskcache in one process, then N processes draining one deque against N
 * Python processes draining a diskcache.Deque. Every measurement runs in several rounds that
 * interleave the systems (the order rotating each round), and the tables give medians over the
 * rounds, with each round's figure beside it to show the noise. It reports; it never asserts a
 * time and never tunes a contender.
 */
import { type DrainRound, type DrainSystem, nodeDrain, pythonDrain } from './collections-drain.js';
import { type Contender, openFloor, openLibrary, openPython } from './collections-systems.js';
import {
  IndexKeys,
  SINGLE_OP_LABELS,
  SINGLE_OPS,
  type SingleOp,
  VALUE_LENGTH,
} from './collections-workload.js';
import {
  type BenchContext,
  type BenchModule,
  findPythonDiskcache,
  formatNumber,
  formatRate,
  formatTable,
  loadAverage,
  machineLine,
  type Stats,
  summarize,
  writeResult,
} from './lib.js';

interface Plan {
  /** Rounds of every one-process per-call measurement. */
  readonly rounds: number;
  /** Per round and system: append, then the same number of popLeft (which empties the deque again). */
  readonly deque: { readonly ops: number; readonly warmup: number };
  readonly indexSet: { readonly ops: number; readonly warmup: number };
  readonly indexGet: { readonly ops: number; readonly warmup: number };
  readonly indexKeys: number;
  readonly extend: { readonly items: number; readonly rounds: number };
  readonly drain: { readonly processes: number; readonly items: number; readonly rounds: number };
}

const FULL: Plan = {
  rounds: 5,
  deque: { ops: 2_000, warmup: 200 },
  indexSet: { ops: 2_000, warmup: 200 },
  indexGet: { ops: 6_000, warmup: 600 },
  indexKeys: 10_000,
  extend: { items: 10_000, rounds: 3 },
  drain: { processes: 4, items: 20_000, rounds: 3 },
};

const QUICK: Plan = {
  rounds: 2,
  deque: { ops: 400, warmup: 100 },
  indexSet: { ops: 400, warmup: 100 },
  indexGet: { ops: 2_000, warmup: 200 },
  indexKeys: 2_000,
  extend: { items: 2_000, rounds: 1 },
  drain: { processes: 4, items: 4_000, rounds: 1 },
};

const FLOOR = 'floor';
const PYTHON = 'python';
const TARGET = { maxVsFloor: 1.15, minOpsVsPython: 1.4, minExtendSpeedup: 10 } as const;

function median(values: readonly number[]): number {
  const sorted = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Rotates `items` left by `by`: round r starts with a different system. */
function rotated<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** One round of one operation on one system: its statistics and the share of time in stalls. */
interface RoundStats extends Stats {
  /** Fraction of the round's time spent in calls of 1 ms or more (checkpoints, fsync, waiting for a CPU). */
  readonly stallShare: number;
}

/** A ratio by two measures: of the means (what ops/s compares) and of the medians (p50). */
interface Ratio {
  readonly mean: number;
  readonly p50: number;
}

/** One system's figures for one operation: medians over the rounds, and each round's figures. */
interface OpRow {
  readonly op: SingleOp;
  readonly system: string;
  readonly rounds: readonly RoundStats[];
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly stallShare: number;
  /** Median over rounds of this ÷ the floor in the same round (below 1: faster than the floor). */
  readonly vsFloor: Ratio;
  /** Median over rounds of Python ÷ this in the same round (above 1: faster than Python). */
  readonly vsPython: Ratio;
}

const STALL_NS = 1e6;

function roundStats(ns: Float64Array): RoundStats {
  let total = 0;
  let stalled = 0;
  for (const sample of ns) {
    total += sample;
    if (sample >= STALL_NS) stalled += sample;
  }
  return { ...summarize(ns), stallShare: total > 0 ? stalled / total : Number.NaN };
}

function opSettings(plan: Plan, op: SingleOp) {
  return op === 'indexSet' ? plan.indexSet : op === 'indexGet' ? plan.indexGet : plan.deque;
}

/** Runs `op` on every contender in `plan.rounds` rounds, the order rotating each round. */
async function measureOp(
  contenders: readonly Contender[],
  op: SingleOp,
  plan: Plan,
): Promise<OpRow[]> {
  const { ops, warmup } = opSettings(plan, op);
  const perRound = new Map<string, RoundStats[]>(contenders.map((contender) => [contender.id, []]));
  let start = 0;
  for (let round = 0; round < plan.rounds; round++) {
    for (const contender of rotated(contenders, round)) {
      const { ns } = await contender.run(op, { start, warmup, ops });
      perRound.get(contender.id)!.push(roundStats(ns));
    }
    start += warmup + ops;
  }
  /** Median over rounds of numerator ÷ denominator, for the mean and for p50. */
  const ratio = (
    numerator: readonly Stats[] | undefined,
    denominator: readonly Stats[] | undefined,
  ): Ratio => {
    if (!numerator || !denominator) return { mean: Number.NaN, p50: Number.NaN };
    const of = (pick: (s: Stats) => number) =>
      median(numerator.map((s, r) => pick(s) / pick(denominator[r]!)));
    return { mean: of((s) => s.meanUs), p50: of((s) => s.p50Us) };
  };
  return contenders.map((contender) => {
    const rounds = perRound.get(contender.id)!;
    return {
      op,
      system: contender.label,
      rounds,
      meanUs: median(rounds.map((s) => s.meanUs)),
      p50Us: median(rounds.map((s) => s.p50Us)),
      p99Us: median(rounds.map((s) => s.p99Us)),
      stallShare: median(rounds.map((s) => s.stallShare)),
      vsFloor: ratio(rounds, perRound.get(FLOOR)),
      vsPython: ratio(perRound.get(PYTHON), rounds),
    };
  });
}

interface ExtendRow {
  readonly system: string;
  readonly roundsMs: readonly number[];
  readonly medianMs: number;
  /** Median over rounds of Python's time ÷ this time (the speed-up over Python). */
  readonly speedupVsPython: number;
}

async function measureExtend(contenders: readonly Contender[], plan: Plan): Promise<ExtendRow[]> {
  const times = new Map<string, number[]>(contenders.map((contender) => [contender.id, []]));
  for (let round = 0; round < plan.extend.rounds; round++) {
    for (const contender of rotated(contenders, round))
      times.get(contender.id)!.push((await contender.extend(plan.extend.items)) / 1e6);
  }
  const python = times.get(PYTHON);
  return contenders.map((contender) => {
    const roundsMs = times.get(contender.id)!;
    return {
      system: contender.label,
      roundsMs,
      medianMs: median(roundsMs),
      speedupVsPython: python ? median(roundsMs.map((ms, r) => python[r]! / ms)) : Number.NaN,
    };
  });
}

interface DrainRow {
  readonly system: string;
  readonly note: string;
  readonly rounds: readonly DrainRound[];
  readonly medianMs: number;
  readonly itemsPerSecond: number;
  readonly duplicates: number;
  readonly lost: number;
}

async function measureDrain(systems: readonly DrainSystem[], plan: Plan): Promise<DrainRow[]> {
  const rounds = new Map<string, DrainRound[]>(systems.map((system) => [system.id, []]));
  for (let round = 0; round < plan.drain.rounds; round++) {
    for (const system of rotated(systems, round)) rounds.get(system.id)!.push(await system.round());
  }
  return systems.map((system) => {
    const done = rounds.get(system.id)!;
    const medianMs = median(done.map((r) => r.wallNs / 1e6));
    return {
      system: system.label,
      note: system.note,
      rounds: done,
      medianMs,
      itemsPerSecond: plan.drain.items / (medianMs / 1000),
      duplicates: done.reduce((total, r) => total + r.duplicates, 0),
      lost: done.reduce((total, r) => total + r.lost, 0),
    };
  });
}

const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');
const roundList = (values: readonly number[]) => values.map(formatNumber).join(' / ');

const ratioPair = (value: Ratio) => `${ratio(value.mean)} / ${ratio(value.p50)}`;
const percent = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100)}%` : '–');

function opTable(rows: readonly OpRow[]): string {
  return formatTable(
    [
      { header: 'operation', align: 'left' },
      { header: 'system', align: 'left' },
      { header: 'mean µs' },
      { header: 'p50 µs' },
      { header: 'p99 µs' },
      { header: 'ops/s' },
      { header: 'vs floor (mean / p50)' },
      { header: 'ops/s vs Python (mean / p50)' },
      { header: 'time in ≥1 ms calls' },
      { header: 'mean µs by round', align: 'left' },
    ],
    rows.map((row) => [
      SINGLE_OP_LABELS[row.op],
      row.system,
      formatNumber(row.meanUs),
      formatNumber(row.p50Us),
      formatNumber(row.p99Us),
      formatRate(1e6 / row.meanUs),
      ratioPair(row.vsFloor),
      ratioPair(row.vsPython),
      percent(row.stallShare),
      roundList(row.rounds.map((s) => s.meanUs)),
    ]),
  );
}

function extendTable(rows: readonly ExtendRow[], items: number): string {
  return formatTable(
    [
      { header: 'system', align: 'left' },
      { header: 'total ms' },
      { header: 'µs per item' },
      { header: 'speed-up vs Python' },
      { header: 'ms by round', align: 'left' },
    ],
    rows.map((row) => [
      row.system,
      formatNumber(row.medianMs),
      formatNumber((row.medianMs * 1000) / items),
      ratio(row.speedupVsPython),
      roundList(row.roundsMs),
    ]),
  );
}

function drainTable(rows: readonly DrainRow[]): string {
  return formatTable(
    [
      { header: 'system', align: 'left' },
      { header: 'wall ms' },
      { header: 'items/s' },
      { header: 'duplicates' },
      { header: 'lost' },
      { header: 'ms by round', align: 'left' },
      { header: 'items per process, by round', align: 'left' },
    ],
    rows.map((row) => [
      row.system,
      formatNumber(row.medianMs),
      formatRate(row.itemsPerSecond),
      String(row.duplicates),
      String(row.lost),
      roundList(row.rounds.map((r) => r.wallNs / 1e6)),
      row.rounds.map((r) => r.perProcess.join('+')).join(' / '),
    ]),
  );
}

/** The issue's targets, each with the measured figure and a verdict. */
function targets(
  opRows: readonly OpRow[],
  extendRows: readonly ExtendRow[],
  drainRows: readonly DrainRow[],
) {
  const lines: { target: string; measured: string; met: boolean | null }[] = [];
  for (const op of ['append', 'popLeft'] as const) {
    const row = opRows.find((r) => r.op === op && r.system === 'this library');
    if (!row) continue;
    lines.push({
      target: `${SINGLE_OP_LABELS[op]} ≤ ${TARGET.maxVsFloor}× the floor (mean)`,
      measured: `${ratio(row.vsFloor.mean)} (p50: ${ratio(row.vsFloor.p50)})`,
      met: Number.isFinite(row.vsFloor.mean) ? row.vsFloor.mean <= TARGET.maxVsFloor : null,
    });
    lines.push({
      target: `${SINGLE_OP_LABELS[op]} ≥ ${TARGET.minOpsVsPython}× Python's ops/s`,
      measured: `${ratio(row.vsPython.mean)} (p50: ${ratio(row.vsPython.p50)})`,
      met: Number.isFinite(row.vsPython.mean) ? row.vsPython.mean >= TARGET.minOpsVsPython : null,
    });
  }
  const extend = extendRows.find((r) => r.system === 'this library');
  if (extend) {
    lines.push({
      target: `Deque.extend ≥ ${TARGET.minExtendSpeedup}× faster than Python's`,
      measured: ratio(extend.speedupVsPython),
      met: Number.isFinite(extend.speedupVsPython)
        ? extend.speedupVsPython >= TARGET.minExtendSpeedup
        : null,
    });
  }
  const library = drainRows.find((r) => r.system === 'this library');
  const python = drainRows.find((r) => r.system === 'Python diskcache');
  if (library) {
    const exact = library.duplicates === 0 && library.lost === 0;
    lines.push({
      target: 'drain faster than Python, 0 duplicates and 0 lost',
      measured: `${python ? `${ratio(python.medianMs / library.medianMs)} Python's items/s` : 'no Python'}, ${library.duplicates} duplicates, ${library.lost} lost`,
      met: python ? exact && library.medianMs < python.medianMs : exact ? null : false,
    });
  }
  return lines;
}

const collectionsBenchmark: BenchModule = {
  name: 'collections',
  title: 'Deque and Index vs raw SQLite (floor) vs Python diskcache; a 4-process drain',
  async run({ quick, machine, log, progress }: BenchContext) {
    const plan = quick ? QUICK : FULL;
    const started = Date.now();
    const loadBefore = loadAverage();
    const keys = new IndexKeys(plan.indexKeys);
    const python = findPythonDiskcache();
    const skipped = 'missing' in python ? python.missing : null;
    const contenders: Contender[] = [];
    const drains: DrainSystem[] = [];
    let opRows: OpRow[] = [];
    let extendRows: ExtendRow[] = [];
    let drainRows: DrainRow[] = [];
    const systems: { label: string; note: string }[] = [];
    try {
      progress(`collections: opening the systems (${plan.indexKeys} index keys each)`);
      contenders.push(openLibrary(keys), openFloor(keys));
      if (!('missing' in python))
        contenders.push(await openPython(python.python, python.version, keys));
      for (const op of SINGLE_OPS) {
        progress(`collections: ${SINGLE_OP_LABELS[op]}`);
        opRows = opRows.concat(await measureOp(contenders, op, plan));
      }
      progress(`collections: Deque.extend of ${plan.extend.items} items`);
      extendRows = await measureExtend(contenders, plan);
      for (const { label, note } of contenders) systems.push({ label, note });
      for (const contender of contenders.splice(0)) await contender.close();
      progress(`collections: ${plan.drain.processes}-process drain of ${plan.drain.items} items`);
      drains.push(await nodeDrain(plan.drain.processes, plan.drain.items));
      if (!('missing' in python))
        drains.push(await pythonDrain(python.python, plan.drain.processes, plan.drain.items));
      drainRows = await measureDrain(drains, plan);
      for (const { label, note } of drains) systems.push({ label: `${label} (drain)`, note });
    } finally {
      for (const contender of contenders) await contender.close();
      for (const drain of drains) await drain.close();
    }
    const opsHeader = `${plan.deque.ops.toLocaleString('en-US')} appends then as many popLefts, ${plan.indexSet.ops.toLocaleString('en-US')} sets and ${plan.indexGet.ops.toLocaleString('en-US')} gets over ${plan.indexKeys.toLocaleString('en-US')} keys per round and system`;
    log(
      `### Deque and Index, one process — ${VALUE_LENGTH}-character string values; ${opsHeader}; ${plan.rounds} rounds`,
    );
    log();
    log(opTable(opRows));
    log();
    log(
      `### Deque.extend of ${plan.extend.items.toLocaleString('en-US')} items (one call), ${plan.extend.rounds} round${plan.extend.rounds === 1 ? '' : 's'}`,
    );
    log();
    log(extendTable(extendRows, plan.extend.items));
    log();
    log(
      `### ${plan.drain.processes} processes drain one deque of ${plan.drain.items.toLocaleString('en-US')} items (popLeft until empty), ${plan.drain.rounds} round${plan.drain.rounds === 1 ? '' : 's'}`,
    );
    log();
    log(drainTable(drainRows));
    log();
    if (skipped) log(`- Python diskcache: skipped — ${skipped}`);
    const checked = targets(opRows, extendRows, drainRows);
    for (const line of checked) {
      const verdict = line.met === null ? 'not checked (no Python)' : line.met ? 'met' : 'MISSED';
      log(`target ${line.target}: ${line.measured} — ${verdict}`);
    }
    log();
    log('Systems:');
    for (const system of systems) log(`- ${system.label}: ${system.note}`);
    log(
      'Figures are medians over the rounds (each round: every system in turn, the order rotating); ratios are medians of the per-round ratios, of the means and of the p50s. "vs floor": this ÷ the floor (below 1 is faster); "ops/s vs Python": Python ÷ this (above 1 is faster). "time in ≥1 ms calls": the share of the time spent in calls of 1 ms or more (WAL checkpoints with their fsyncs, waiting for a CPU) — where it is high, the means (and ops/s) measure those stalls more than the code. Drain wall time: from "go" to the last process\'s answer, process start-up and filling excluded.',
    );
    const loadAfter = loadAverage();
    log(
      `Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAfter} (${machine.cores} cores).`,
    );
    log(`Machine: ${machineLine(machine)}`);
    const file = writeResult(quick ? 'quick-collections.json' : 'latest-collections.json', {
      benchmark: 'collections',
      date: new Date().toISOString(),
      quick,
      seconds: Math.round((Date.now() - started) / 1000),
      machine,
      loadAverage: { before: loadBefore, after: loadAfter },
      plan,
      python: 'missing' in python ? { missing: python.missing } : python,
      operations: opRows,
      extend: extendRows,
      drain: drainRows,
      targets: checked,
    });
    log(`Results: ${file}`);
  },
};

export default collectionsBenchmark;
