/**
 * The stress suite: `npm run stress -- [options]`. Many processes (and worker threads) hammer one
 * Cache, FanoutCache, Deque, Index or WorkQueue directory at once; every actor keeps an in-memory
 * model of what it alone writes (exact, because it is the only writer of those keys or of that
 * deque) and checks each read against it; shared keys and a shared deque are checked by
 * self-validating values and by accounting. The queue variant SIGKILLs worker processes at random
 * and respawns them: every job must end done, with its right result. At the end `check()` must be
 * clean in Node and in Python's diskcache. It prints operations, errors, mismatches, lost and the
 * seed to rerun; it exits 1 on any mismatch, loss or check warning.
 *
 * This one file is the coordinator (run by npm), an actor process (`actor` argument, forked) and an
 * actor thread (a worker_threads Worker of an actor process).
 */
import { fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Cache, Deque, FanoutCache, Index, WorkQueue } from '../src/index.js';
// The seeded PRNG of the multi-process tests (mulberry32): the same seed, the same operations.
import { prng } from '../test/fixtures/cache-child-kit.js';

const TARGETS = ['cache', 'fanout', 'deque', 'index', 'queue'] as const;
type Target = (typeof TARGETS)[number];
const POLICY_NAMES = [
  'none',
  'least-recently-stored',
  'least-recently-used',
  'least-frequently-used',
] as const;
type Policy = (typeof POLICY_NAMES)[number];
const FANOUT_SHARDS = 4;
const PYTHON = process.env.STRESS_PYTHON ?? '/usr/bin/python3';

/** What one run of one target is given (the same for every actor of it). */
interface Plan {
  readonly target: Target;
  readonly dir: string;
  readonly seed: number;
  /** Seconds each actor runs (from its own start; the queue's actors run until told to stop). */
  readonly seconds: number;
  readonly opsPerActor: number;
  readonly evictionPolicy: Policy;
  readonly sizeLimit: number;
  readonly largeFraction: number;
  readonly threads: number;
  readonly sabotage: boolean;
}

/** What an actor reports. */
interface Report {
  ops: number;
  errors: Record<string, number>;
  mismatches: number;
  lost: number;
  evicted: number;
  details: string[];
  /** Shared deque accounting: items appended and popped, as counts and sums of their hashes. */
  pushed: [number, number];
  popped: [number, number];
  uncertain: number;
}

function emptyReport(): Report {
  return {
    ops: 0,
    errors: {},
    mismatches: 0,
    lost: 0,
    evicted: 0,
    details: [],
    pushed: [0, 0],
    popped: [0, 0],
    uncertain: 0,
  };
}

function merge(into: Report, from: Report): Report {
  into.ops += from.ops;
  for (const [name, n] of Object.entries(from.errors))
    into.errors[name] = (into.errors[name] ?? 0) + n;
  into.mismatches += from.mismatches;
  into.lost += from.lost;
  into.evicted += from.evicted;
  into.details.push(...from.details.slice(0, 20 - into.details.length));
  into.pushed = [into.pushed[0] + from.pushed[0], (into.pushed[1] + from.pushed[1]) % 2 ** 48];
  into.popped = [into.popped[0] + from.popped[0], (into.popped[1] + from.popped[1]) % 2 ** 48];
  into.uncertain += from.uncertain;
  return into;
}

// ---- randomness and values ----------------------------------------------------------------------

function hash48(text: string | Buffer): number {
  return createHash('sha1').update(text).digest().readUIntBE(0, 6);
}

/** A value for (key, writer, seq): small, medium or large (a value file), chosen by `rand`. */
function makeValue(
  rand: () => number,
  plan: Plan,
  key: string,
  writer: number,
  seq: number,
): unknown {
  const r = rand();
  if (r < plan.largeFraction) {
    // Large: a value file. Its first 20 bytes are the SHA-1 of the rest, which starts with the key.
    const size = 40_000 + Math.floor(rand() * 160_000);
    const body = Buffer.alloc(size, (writer * 31 + seq) & 0xff);
    body.write(`${key}|${writer}|${seq}|`);
    return Buffer.concat([createHash('sha1').update(body).digest(), body]);
  }
  if (r < 0.3) return `${key}|${writer}|${seq}|${'s'.repeat(Math.floor(rand() * 2000))}`;
  if (r < 0.4) return seq * 1000 + writer;
  return { key, writer, seq, pad: 'p'.repeat(Math.floor(rand() * 200)), at: [seq, -0, 1.5] };
}

/** The fingerprint compared with the model (a Buffer by its length and hash). */
function fingerprint(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (Buffer.isBuffer(value)) return `buffer:${value.length}:${hash48(value)}`;
  return JSON.stringify(value);
}

/** Whether a value read under a shared key is whole: one that some writer wrote for that key. */
function wellFormed(key: string, value: unknown): boolean {
  if (value === undefined) return true;
  if (Buffer.isBuffer(value)) {
    const body = value.subarray(20);
    return (
      createHash('sha1').update(body).digest().equals(value.subarray(0, 20)) &&
      body.toString('latin1', 0, key.length + 1) === `${key}|`
    );
  }
  if (typeof value === 'string') return value.startsWith(`${key}|`);
  if (typeof value === 'number') return Number.isInteger(value);
  return (value as { key?: unknown }).key === key;
}

// ---- actors -------------------------------------------------------------------------------------

function errorName(error: unknown): string {
  return (error as Error)?.name ?? 'Error';
}

/** The store API the keyed actors use (Cache, FanoutCache and Index share it). */
interface KeyedStore {
  set(key: string, value: unknown): void;
  get(key: string): unknown;
  delete(key: string): boolean;
  pop(key: string): unknown;
  add?(key: string, value: unknown): boolean;
  incr?(key: string, delta?: number): number;
}

function keyedStore(target: Target, plan: Plan): { store: KeyedStore; close(): void } {
  const options = { evictionPolicy: plan.evictionPolicy, sizeLimit: plan.sizeLimit };
  if (target === 'cache' || target === 'fanout') {
    const cache =
      target === 'cache'
        ? new Cache(plan.dir, options)
        : new FanoutCache(plan.dir, { ...options, shards: FANOUT_SHARDS, timeout: 60 });
    return {
      store: {
        set: (k, v) => cache.set(k, v),
        get: (k) => cache.get(k),
        delete: (k) => cache.delete(k),
        pop: (k) => cache.pop(k),
        add: (k, v) => cache.add(k, v),
        incr: (k, d) => cache.incr(k, d) as number,
      },
      close: () => cache.close(),
    };
  }
  const index = new Index<string, unknown>(plan.dir);
  return {
    store: {
      set: (k, v) => index.set(k, v),
      get: (k) => index.get(k),
      delete: (k) => index.delete(k),
      pop: (k) => index.pop(k, null) ?? undefined, // (no value written is null)
    },
    close: () => index.close(),
  };
}

/**
 * Keyed actor: its own keys `a<actor>-<n>` with an exact model (a set of acceptable fingerprints:
 * one, or two after an operation that failed and may or may not have happened), and shared keys
 * `shared-<n>` whose values must be whole.
 */
function keyedActor(plan: Plan, actor: number): Report {
  const report = emptyReport();
  const rand = prng(plan.seed * 1009 + actor);
  const { store, close } = keyedStore(plan.target, plan);
  const evicts =
    plan.target !== 'index' && plan.evictionPolicy !== 'none' && plan.sizeLimit < 2 ** 30;
  const model = new Map<string, Set<string>>();
  const accepted = (key: string) => model.get(key) ?? new Set(['undefined']);
  const mismatch = (what: string) => {
    report.mismatches++;
    if (report.details.length < 20) report.details.push(`${plan.target} actor ${actor}: ${what}`);
  };
  const verify = (key: string, value: unknown, op: string) => {
    const seen = fingerprint(value);
    const ok = accepted(key);
    if (ok.has(seen)) {
      model.set(key, new Set([seen]));
      return;
    }
    if (value === undefined && evicts) {
      report.evicted++;
      model.set(key, new Set(['undefined']));
      return;
    }
    mismatch(
      `${op} ${key} gave ${seen.slice(0, 80)}, expected one of ${[...ok].map((s) => s.slice(0, 80)).join(' | ')}`,
    );
    model.set(key, new Set([seen]));
  };
  const ownKeys = 200;
  let seq = 0;
  const deadline = Date.now() + plan.seconds * 1000;
  while (report.ops < plan.opsPerActor && Date.now() < deadline) {
    seq++;
    report.ops++;
    const shared = rand() < 0.15;
    const key = shared
      ? `shared-${Math.floor(rand() * 16)}`
      : `a${actor}-${Math.floor(rand() * ownKeys)}`;
    const r = rand();
    const before = accepted(key);
    let after: string | undefined;
    try {
      if (shared) {
        if (r < 0.4) store.set(key, makeValue(rand, plan, key, actor, seq));
        else if (r < 0.9) {
          const value = store.get(key);
          if (!wellFormed(key, value)) mismatch(`get ${key} gave a torn or foreign value`);
        } else store.delete(key);
        continue;
      }
      if (r < 0.35) {
        const value = makeValue(rand, plan, key, actor, seq);
        after = fingerprint(value);
        store.set(key, value);
      } else if (r < 0.75) {
        verify(key, store.get(key), 'get');
      } else if (r < 0.83) {
        after = 'undefined';
        store.delete(key);
      } else if (r < 0.88) {
        const value = store.pop(key);
        after = 'undefined';
        verify(key, value, 'pop');
      } else if (r < 0.94 && store.add) {
        const value = makeValue(rand, plan, key, actor, seq);
        const present = !before.has('undefined');
        after = fingerprint(value);
        const added = store.add(key, value);
        if (before.size === 1 && added === present && !evicts)
          mismatch(`add ${key} returned ${added} with the key ${present ? 'present' : 'absent'}`);
        if (!added) after = undefined;
        if (!added && before.has('undefined') && before.size === 1 && evicts) after = undefined;
      } else if (store.incr) {
        const counter = `n${actor}-${Math.floor(rand() * 8)}`;
        const old = accepted(counter);
        const result = store.incr(counter, 3);
        const expected = [...old].map((f) => (f === 'undefined' ? 3 : Number(f) + 3));
        if (!expected.includes(result) && !(evicts && result === 3))
          mismatch(`incr ${counter} gave ${result}, expected ${expected.join(' or ')}`);
        model.set(counter, new Set([String(result)]));
      } else {
        verify(key, store.get(key), 'get');
      }
      if (after !== undefined) model.set(key, new Set([after]));
      // --sabotage: a write behind the model's back, to show that the suite sees it.
      if (plan.sabotage && seq % 500 === 0) store.set(key, `sabotage ${seq}`);
    } catch (error) {
      report.errors[errorName(error)] = (report.errors[errorName(error)] ?? 0) + 1;
      // It may or may not have happened: both outcomes are acceptable until the next read.
      if (after !== undefined) model.set(key, new Set([...before, after]));
    }
  }
  // Final sweep: every key this actor owns reads back as its model says.
  for (const key of model.keys()) {
    if (key.startsWith('shared-')) continue;
    const value = store.get(key);
    const ok = accepted(key);
    if (ok.has(fingerprint(value))) continue;
    if (value === undefined) {
      if (evicts) report.evicted++;
      else {
        report.lost++;
        if (report.details.length < 20)
          report.details.push(`${plan.target} actor ${actor}: lost ${key}`);
      }
    } else mismatch(`final ${key} gave ${fingerprint(value).slice(0, 80)}`);
  }
  close();
  return report;
}

/**
 * Deque actor: its own deque (an exact array model) and a shared deque (every item appended is
 * popped once: counts and hash sums must balance at the end).
 */
function dequeActor(plan: Plan, actor: number): Report {
  const report = emptyReport();
  const rand = prng(plan.seed * 1013 + actor);
  const own = new Deque<unknown>(path.join(plan.dir, `own-${actor}`));
  const shared = new Deque<string>(path.join(plan.dir, 'shared'));
  const model: string[] = [];
  const mismatch = (what: string) => {
    report.mismatches++;
    if (report.details.length < 20) report.details.push(`deque actor ${actor}: ${what}`);
  };
  let seq = 0;
  const deadline = Date.now() + plan.seconds * 1000;
  while (report.ops < plan.opsPerActor && Date.now() < deadline) {
    seq++;
    report.ops++;
    const r = rand();
    try {
      if (r < 0.3) {
        const item = `${actor}:${seq}`;
        shared.append(item);
        report.pushed = [report.pushed[0] + 1, (report.pushed[1] + hash48(item)) % 2 ** 48];
      } else if (r < 0.55) {
        const item = shared.popLeft();
        if (item !== undefined)
          report.popped = [report.popped[0] + 1, (report.popped[1] + hash48(item)) % 2 ** 48];
      } else if (r < 0.7) {
        const value = makeValue(rand, plan, `own-${actor}`, actor, seq);
        if (rand() < 0.5) {
          own.append(value);
          model.push(fingerprint(value));
        } else {
          own.appendLeft(value);
          model.unshift(fingerprint(value));
        }
      } else if (r < 0.8) {
        const got = fingerprint(own.pop());
        const expected = model.pop() ?? 'undefined';
        if (got !== expected)
          mismatch(`pop gave ${got.slice(0, 60)}, expected ${expected.slice(0, 60)}`);
      } else if (r < 0.9) {
        const got = fingerprint(own.popLeft());
        const expected = model.shift() ?? 'undefined';
        if (got !== expected)
          mismatch(`popLeft gave ${got.slice(0, 60)}, expected ${expected.slice(0, 60)}`);
      } else {
        const got = fingerprint(own.peek());
        const expected = model.at(-1) ?? 'undefined';
        if (got !== expected)
          mismatch(`peek gave ${got.slice(0, 60)}, expected ${expected.slice(0, 60)}`);
        if (own.length !== model.length) mismatch(`length ${own.length}, expected ${model.length}`);
      }
    } catch (error) {
      report.errors[errorName(error)] = (report.errors[errorName(error)] ?? 0) + 1;
      report.uncertain++;
      // Resynchronise the own model from the deque itself.
      model.splice(0, model.length, ...[...own].map(fingerprint));
    }
  }
  const final = [...own].map(fingerprint);
  if (final.join('\n') !== model.join('\n'))
    mismatch(`final contents differ (${final.length} items, model ${model.length})`);
  own.close();
  shared.close();
  return report;
}

/** The file that tells queue actors to stop once the queue is drained. */
function stopFile(plan: Plan): string {
  return path.join(plan.dir, 'stop');
}

function expectedResult(n: number): string {
  return `r${n}:${hash48(`job-${n}`)}`;
}

/** Queue actor: takes jobs, computes their result, acks; runs until told to stop (or killed). */
async function queueActor(plan: Plan, actor: number): Promise<Report> {
  const report = emptyReport();
  const queue = new WorkQueue<{ n: number }>(plan.dir, { leaseSeconds: 3, maxAttempts: 1000 });
  for (;;) {
    try {
      const job = queue.take();
      if (job === undefined) {
        // The coordinator writes the stop file when it stops killing: then drain and end.
        if (fs.existsSync(stopFile(plan))) {
          const stats = queue.stats();
          if (stats.pending === 0 && stats.leased === 0) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      report.ops++;
      job.ack(expectedResult(job.payload.n));
    } catch (error) {
      report.errors[errorName(error)] = (report.errors[errorName(error)] ?? 0) + 1;
    }
  }
  queue.close();
  void actor;
  return report;
}

async function runActor(plan: Plan, actor: number): Promise<Report> {
  if (plan.target === 'queue') return queueActor(plan, actor);
  if (plan.target === 'deque') return dequeActor(plan, actor);
  return keyedActor(plan, actor);
}

/** An actor process: runs `threads` actors (one here, the others in worker threads). */
async function actorProcess(plan: Plan, first: number): Promise<Report> {
  const threads = Array.from(
    { length: plan.threads - 1 },
    (_, i) =>
      new Promise<Report>((resolve, reject) => {
        // A worker thread does not inherit tsx's loader: register it, then load this file (when
        // this file is TypeScript; a transpiled copy loads as it is).
        const self = JSON.stringify(import.meta.url);
        const boot = import.meta.url.endsWith('.ts')
          ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${self}); })`
          : `import(${self})`;
        const worker = new Worker(boot, { eval: true, workerData: { plan, actor: first + i + 1 } });
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
  );
  const mine = await runActor(plan, first);
  for (const report of await Promise.all(threads)) merge(mine, report);
  return mine;
}

// ---- the coordinator ----------------------------------------------------------------------------

interface Options {
  processes: number;
  threads: number;
  seconds: number;
  ops: number;
  seed: number;
  evictionPolicy: Policy;
  sizeLimit: number;
  largeFraction: number;
  targets: Target[];
  dir: string;
  killEvery: number;
  keep: boolean;
  sabotage: boolean;
}

const USAGE = `usage: npm run stress -- [--target cache|fanout|deque|index|queue|all] [--processes N]
  [--threads N] [--seconds S | --ops N] [--seed N] [--eviction-policy P] [--size-limit BYTES]
  [--large-fraction F] [--kill-every SECONDS] [--dir D] [--keep] [--sabotage]
  --sabotage: writes behind the models' backs (the run must then fail: a check of the checker)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', default: 'all' },
      processes: { type: 'string', default: '4' },
      threads: { type: 'string', default: '1' },
      seconds: { type: 'string' },
      ops: { type: 'string' },
      seed: { type: 'string' },
      'eviction-policy': { type: 'string', default: 'least-recently-stored' },
      'size-limit': { type: 'string', default: String(2 ** 30) },
      'large-fraction': { type: 'string', default: '0.03' },
      'kill-every': { type: 'string', default: '1' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      sabotage: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: string, text: string, min = 1): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min)
      throw new RangeError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  const real = (name: string, text: string, max = Infinity): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0 || n > max)
      throw new RangeError(
        `--${name} must be a number from 0 to ${max}, got ${JSON.stringify(text)}`,
      );
    return n;
  };
  const target = values.target!;
  if (target !== 'all' && !(TARGETS as readonly string[]).includes(target))
    throw new RangeError(
      `--target must be one of ${TARGETS.join(', ')}, all; got ${JSON.stringify(target)}`,
    );
  const policy = values['eviction-policy']!;
  if (!(POLICY_NAMES as readonly string[]).includes(policy))
    throw new RangeError(
      `--eviction-policy must be one of ${POLICY_NAMES.join(', ')}; got ${JSON.stringify(policy)}`,
    );
  if (values.seconds !== undefined && values.ops !== undefined)
    throw new TypeError('give --seconds or --ops, not both');
  return {
    processes: count('processes', values.processes!),
    threads: count('threads', values.threads!),
    seconds:
      values.seconds === undefined
        ? values.ops === undefined
          ? 20
          : Infinity
        : real('seconds', values.seconds),
    ops: values.ops === undefined ? Infinity : count('ops', values.ops),
    seed:
      values.seed === undefined
        ? Math.floor(Math.random() * 2 ** 31)
        : count('seed', values.seed, 0),
    evictionPolicy: policy as Policy,
    sizeLimit: real('size-limit', values['size-limit']!),
    largeFraction: real('large-fraction', values['large-fraction']!, 1),
    targets: target === 'all' ? [...TARGETS] : [target as Target],
    dir: values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'diskcache-stress-')),
    killEvery: real('kill-every', values['kill-every']!),
    keep: values.keep!,
    sabotage: values.sabotage!,
  };
}

const SELF = fileURLToPath(import.meta.url);

/** Forks one actor process; resolves with its report, or null when it was killed. */
function forkActor(
  plan: Plan,
  first: number,
): { child: ReturnType<typeof fork>; done: Promise<Report | null> } {
  // Run as this process was (fork's default execArgv): through tsx, or a transpiled copy by node.
  const child = fork(SELF, ['actor', JSON.stringify({ plan, first })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const done = new Promise<Report | null>((resolve) => {
    let report: Report | null = null;
    child.on('message', (message) => {
      report = message as Report;
    });
    child.on('exit', (code, signal) => {
      if (report === null && signal !== 'SIGKILL')
        resolve({
          ...emptyReport(),
          mismatches: 1,
          details: [`actor process ${first} exited with ${code ?? signal} and no report`],
        });
      else resolve(report);
    });
  });
  return { child, done };
}

/** Runs one target with every actor; returns the merged report plus the end checks' findings. */
async function runTarget(
  options: Options,
  target: Target,
  seconds: number,
): Promise<Report & { kills: number; checks: string[] }> {
  const dir = path.join(options.dir, target);
  fs.mkdirSync(dir, { recursive: true });
  const actors = options.processes * options.threads;
  const plan: Plan = {
    target,
    dir,
    seed: options.seed + TARGETS.indexOf(target),
    seconds: Number.isFinite(seconds) ? seconds : 1e9,
    // (JSON carries the plan to the actors: no Infinity in it.)
    opsPerActor: Number.isFinite(options.ops)
      ? Math.ceil(options.ops / actors)
      : Number.MAX_SAFE_INTEGER,
    evictionPolicy: options.evictionPolicy,
    sizeLimit: options.sizeLimit,
    largeFraction: options.largeFraction,
    threads: options.threads,
    sabotage: options.sabotage,
  };
  const report = emptyReport();
  let kills = 0;
  let total = 0;
  if (target === 'queue') {
    // Jobs first; then workers, killed at random and respawned until the time is up.
    const queue = new WorkQueue<{ n: number }>(dir, { leaseSeconds: 3, maxAttempts: 1000 });
    const rand = prng(plan.seed);
    const finite = Number.isFinite(options.ops);
    const putBatch = () => {
      const size = finite ? Math.min(2000, options.ops - total) : 2000;
      const batch = Array.from({ length: size }, (_, i) => ({ n: total + i }));
      queue.putMany(batch, { key: (payload) => `j${payload.n}` });
      total += batch.length;
    };
    if (finite) while (total < options.ops) putBatch();
    else putBatch();
    const deadline = Date.now() + seconds * 1000;
    const live = new Map<number, ReturnType<typeof forkActor>>();
    const reports: Promise<Report | null>[] = [];
    const spawnSlot = (slot: number) => {
      const actor = forkActor(plan, slot * options.threads);
      live.set(slot, actor);
      reports.push(actor.done);
    };
    for (let slot = 0; slot < options.processes; slot++) spawnSlot(slot);
    for (;;) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(200, options.killEvery * 1000 * (0.5 + rand()))),
      );
      const stats = queue.stats();
      // At least one kill when kills are asked for, however short the run (the CI share is).
      const killedEnough = options.killEvery <= 0 || kills > 0;
      if (killedEnough && (finite ? stats.pending === 0 : Date.now() >= deadline)) break;
      if (!finite && stats.pending < 2000) putBatch();
      if (options.killEvery > 0) {
        const slot = Math.floor(rand() * options.processes);
        live.get(slot)?.child.kill('SIGKILL');
        kills++;
        spawnSlot(slot);
      }
    }
    fs.writeFileSync(stopFile(plan), '');
    for (const r of await Promise.all(reports)) if (r) merge(report, r);
    fs.rmSync(stopFile(plan));
    const stats = queue.stats();
    const missing: number[] = [];
    const wrong: number[] = [];
    const results = queue.results;
    for (let n = 0; n < total; n++) {
      const value = results.get(`j${n}`);
      if (value === undefined) missing.push(n);
      else if (value !== expectedResult(n)) wrong.push(n);
    }
    report.lost += missing.length + Math.max(0, total - stats.done);
    report.mismatches += wrong.length + stats.failed;
    if (missing.length)
      report.details.push(
        `queue: ${missing.length} jobs without a result (first ${missing.slice(0, 5).join(', ')})`,
      );
    if (wrong.length) report.details.push(`queue: ${wrong.length} wrong results`);
    // (Operations count the acks of the workers that lived to report; the jobs are all of them.)
    report.details.unshift(
      `queue: ${total} jobs put, ${stats.done} done, ${stats.pending} pending, ${stats.leased} leased, ${stats.failed} failed`,
    );
    queue.close();
  } else {
    const children = Array.from({ length: options.processes }, (_, p) =>
      forkActor(plan, p * options.threads),
    );
    for (const r of await Promise.all(children.map((c) => c.done))) if (r) merge(report, r);
    if (target === 'deque') {
      // The shared deque balances: appended = popped + left in it.
      const shared = new Deque<string>(path.join(dir, 'shared'));
      let left: [number, number] = [0, 0];
      for (const item of shared) left = [left[0] + 1, (left[1] + hash48(item)) % 2 ** 48];
      shared.close();
      const count = report.popped[0] + left[0];
      const sum = (report.popped[1] + left[1]) % 2 ** 48;
      if (count !== report.pushed[0] || sum !== report.pushed[1]) {
        if (report.uncertain === 0) {
          report.mismatches++;
          report.details.push(
            `shared deque: ${report.pushed[0]} appended, ${report.popped[0]} popped + ${left[0]} left`,
          );
        } else
          report.details.push(`shared deque: inexact after ${report.uncertain} failed operations`);
      }
    }
  }
  if (report.ops === 0) {
    report.mismatches++;
    report.details.push(`${target}: no operation ran (give more --seconds on a loaded machine)`);
  }
  return { ...report, kills, checks: checkDirectories(target, dir) };
}

/** `check()` in Node and in Python on every directory of a target: the warnings found. */
function checkDirectories(target: Target, dir: string): string[] {
  const warnings: string[] = [];
  const cacheDirs =
    target === 'deque'
      ? fs.readdirSync(dir).map((name) => path.join(dir, name))
      : target === 'queue'
        ? [dir, path.join(dir, 'results')]
        : target === 'fanout'
          ? []
          : [dir];
  for (const d of cacheDirs) {
    using cache = new Cache(d);
    for (const w of cache.check()) warnings.push(`node ${d}: ${w.kind} ${w.message}`);
  }
  if (target === 'fanout') {
    using fanout = new FanoutCache(dir, { shards: FANOUT_SHARDS });
    for (const w of fanout.check()) warnings.push(`node ${dir}: ${w.kind} ${w.message}`);
  }
  const script = [
    'import sys, warnings, diskcache',
    'bad = 0',
    'for d in sys.argv[2:]:',
    '    c = diskcache.FanoutCache(d, shards=int(sys.argv[1])) if sys.argv[1] != "0" else diskcache.Cache(d)',
    '    with warnings.catch_warnings(record=True) as found:',
    '        warnings.simplefilter("always")',
    '        c.check()',
    '    for w in found: print(d, w.message); bad += 1',
    '    c.close()',
  ].join('\n');
  const dirs = target === 'fanout' ? [dir] : cacheDirs;
  const python = spawnSync(
    PYTHON,
    ['-c', script, target === 'fanout' ? String(FANOUT_SHARDS) : '0', ...dirs],
    {
      encoding: 'utf8',
    },
  );
  if (python.error || python.status !== 0)
    warnings.push(
      `python check failed: ${python.error?.message ?? python.stderr.trim().split('\n').at(-1)}`,
    );
  for (const line of python.stdout.split('\n').filter(Boolean)) warnings.push(`python ${line}`);
  return warnings;
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

async function coordinator(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`stress: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const started = Date.now();
  console.log(
    `stress: seed ${options.seed}, ${options.processes} processes × ${options.threads} threads, targets ${options.targets.join(', ')}, ` +
      `${Number.isFinite(options.seconds) ? `${options.seconds} s` : `${options.ops} operations`}, eviction ${options.evictionPolicy}, directory ${options.dir}, load ${loadAverage()}`,
  );
  let failed = false;
  const totals = emptyReport();
  let totalKills = 0;
  for (const target of options.targets) {
    const t0 = Date.now();
    const r = await runTarget(options, target, options.seconds / options.targets.length);
    merge(totals, r);
    totalKills += r.kills;
    const errors =
      Object.entries(r.errors)
        .map(([name, n]) => `${name} ${n}`)
        .join(', ') || '0';
    console.log(
      `${target.padEnd(7)} ${r.ops} operations in ${((Date.now() - t0) / 1000).toFixed(1)} s, errors ${errors}, mismatches ${r.mismatches}, lost ${r.lost}` +
        `${r.evicted ? `, evicted ${r.evicted}` : ''}${target === 'queue' ? `, kills ${r.kills}` : ''}, check warnings ${r.checks.length} (load ${loadAverage()})`,
    );
    for (const line of [...r.details, ...r.checks].slice(0, 20)) console.log(`  ${line}`);
    if (r.mismatches || r.lost || r.checks.length) failed = true;
  }
  const errors = Object.values(totals.errors).reduce((a, b) => a + b, 0);
  console.log(
    `total: ${totals.ops} operations in ${((Date.now() - started) / 1000).toFixed(1)} s, errors ${errors}, mismatches ${totals.mismatches}, lost ${totals.lost}, kills ${totalKills}: ${failed ? 'FAILED' : 'ok'}`,
  );
  console.log(
    `rerun: npm run stress -- --seed ${options.seed} --processes ${options.processes} --threads ${options.threads} --target ${options.targets.length > 1 ? 'all' : options.targets[0]} ` +
      `${Number.isFinite(options.seconds) ? `--seconds ${options.seconds}` : `--ops ${options.ops}`} --eviction-policy ${options.evictionPolicy}`,
  );
  if (!options.keep && !failed) fs.rmSync(options.dir, { recursive: true, force: true });
  else console.log(`directory kept: ${options.dir}`);
  return failed ? 1 : 0;
}

if (!isMainThread) {
  const { plan, actor } = workerData as { plan: Plan; actor: number };
  parentPort!.postMessage(await runActor(plan, actor));
} else if (process.argv[2] === 'actor') {
  const { plan, first } = JSON.parse(process.argv[3]!) as { plan: Plan; first: number };
  const report = await actorProcess(plan, first);
  process.send!(report, () => process.exit(0));
} else {
  process.exitCode = await coordinator();
}
