/**
 * run-workers: the runner's parent. It checks the handler module, forks `processes` children
 * (child.ts) on one queue, reports progress from the queue's own counts, and stops gracefully —
 * on its `signal`, or with `once` when the queue is drained. It isolates faults: it keeps the
 * books of what each child holds (ledger.ts), kills a child that stops answering after a job
 * timeout, and when a child dies it gives the child's jobs back at once without charging them an
 * attempt, has the ones that were running run alone to find the culprit (quarantine.ts), and
 * restarts the child. It does not install signal handlers (the CLI does) and never runs a job.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as os from 'node:os';
import { checkBoolean, checkInteger, checkSeconds, type Seconds } from '../cache/checks.js';
import { describeValue, HandlerModuleError } from '../cache/errors.js';
import { retryDelay } from '../cache/waiting.js';
import type { AsyncWorkQueue, FailedJob } from '../collections/async-work-queue.js';
import { isRedisQueueLocator, openQueue } from '../collections/open-queue.js';
import { WorkQueue, type WorkQueueStats } from '../collections/work-queue.js';
import { redacted } from '../redis/redis-client.js';
import { type HandlerModule, handlerPath, loadHandler } from './handler.js';
import { ChildLedger, Suspects } from './ledger.js';
import { RateMeter, type RunProgress } from './progress.js';
import {
  CHILD_ENTRY,
  type ChildConfig,
  type ChildMessage,
  childExecArgv,
  EXIT_HANDLER_MODULE,
  type ParentMessage,
} from './protocol.js';
import { workerEnvironment } from './worker-environment.js';
// Types only: the worker loop runs in the children, never in this process.
import type { WorkerCounts } from './worker-loop.js';

/** Options of `runWorkers`. */
export interface RunWorkersOptions {
  /**
   * The queue: its locator (a directory, or `redis://[user:password@]host[:port][/db]#name`), or
   * an open WorkQueue or AsyncWorkQueue (left open). The worker processes open it by its locator,
   * so a queue object must have one they can open (a RedisWorkQueue made on your own client has
   * none: pass its URL instead).
   */
  readonly queue: string | WorkQueue<unknown> | AsyncWorkQueue<unknown>;
  /**
   * The handler module (a path relative to the working directory, or a file URL). Its default
   * export, or its export named `handler`, is called as `handler(payload, job)` for every job.
   */
  readonly handler: HandlerModule;
  /** Worker processes. @default os.availableParallelism() */
  readonly processes?: number;
  /** Jobs each process runs at once. @default 1 */
  readonly concurrency?: number;
  /** Lease length in seconds (extended every third of it while a job runs). @default the queue's leaseSeconds */
  readonly leaseSeconds?: Seconds;
  /**
   * Stop when the whole queue is drained (no job pending or leased, by any runner on any
   * machine), instead of waiting for more work. @default false
   */
  readonly once?: boolean;
  /** Aborting it stops the run gracefully (the promise then resolves with reason 'stopped'). */
  readonly signal?: AbortSignal;
  /**
   * Seconds a job may run. Past it, the job's `signal` aborts and the job fails with
   * `JobTimeoutError` (then is retried like any failure); a process kept busy by a handler that
   * ignores the signal is killed `graceSeconds` later (sooner if its leases would run out first)
   * and replaced, its other jobs given back without charge. Without it, a handler that never
   * settles keeps its job (and its lease) forever, and `once` never ends. @default no limit
   */
  readonly jobTimeoutSeconds?: Seconds;
  /**
   * Seconds that running jobs get to finish once stopping, and that a process gets to become
   * responsive again after a job's timeout before it is killed. @default 30
   */
  readonly graceSeconds?: Seconds;
  /** Called with a snapshot every `progressIntervalSeconds`, and once at the end. */
  readonly onProgress?: (progress: RunProgress) => void;
  /** @default 1 */
  readonly progressIntervalSeconds?: Seconds;
  /** Called when a child starts or exits and when the run starts stopping. */
  readonly onEvent?: (event: RunnerEvent) => void;
  /**
   * Whether a completed job keeps its slot until its ack is written: then at most `processes` ×
   * `concurrency` jobs are running or done-but-not-acked, which bounds what a crash of every
   * process makes run again. Without it a slot is free as soon as its job returns and acks go in
   * batches (much faster for jobs of a millisecond or less). The crawl uses it. @default false
   */
  readonly holdSlotUntilAcked?: boolean;
  /**
   * Node.js options for the worker processes, after those the runner needs (e.g.
   * `['--max-old-space-size=512']` to bound a worker's heap). @default none
   */
  readonly nodeOptions?: readonly string[];
}

/** What happened to the worker processes. */
export type RunnerEvent =
  | { readonly type: 'spawn'; readonly worker: number; readonly pid: number }
  | {
      readonly type: 'exit';
      readonly worker: number;
      readonly pid: number;
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      /** Set when the child died unexpectedly and will be restarted after this many seconds. */
      readonly restartInSeconds?: number;
      /** Jobs it held that went back to pending without an attempt charged. */
      readonly requeued: number;
      /** Of those, how many were running (or may have been): each will run alone. */
      readonly suspects: number;
    }
  /** A child was killed because it stopped answering (a handler keeps its event loop busy). */
  | {
      readonly type: 'unresponsive';
      readonly worker: number;
      readonly pid: number;
      readonly silentSeconds: number;
    }
  | { readonly type: 'stopping'; readonly reason: RunSummary['reason'] };

/** A job that moved to the failed list during a run. */
export interface RunFailure {
  readonly id: number;
  readonly key: string | undefined;
  readonly attempts: number;
  /** Its last error, as stored (a stack, or a message saying how its process died). */
  readonly error: string;
}

/** How a run ended. */
export interface RunSummary {
  /** 'drained' (with `once`) or 'stopped' (the signal aborted). */
  readonly reason: 'drained' | 'stopped';
  /** The queue's counts at the end. */
  readonly stats: WorkQueueStats;
  /** What the workers did during this run, summed over processes (as far as they reported). */
  readonly counts: WorkerCounts;
  readonly restarts: number;
  /** Jobs given back without an attempt charged because the process running them died. */
  readonly requeued: number;
  /** Children killed because they stopped answering after a job timeout. */
  readonly unresponsive: number;
  /** Jobs that moved to the failed list during this run, oldest first (at most 100). */
  readonly failures: readonly RunFailure[];
  readonly elapsedSeconds: number;
}

/** A child that died this many times in a row before it was ready means something is broken. */
const MAX_START_FAILURES = 5;
/** A child that lived less than this is restarted with a growing delay. */
const QUICK_DEATH_SECONDS = 2;
const MAX_RESTART_DELAY_SECONDS = 5;
/** How often `once` looks whether the queue is drained. */
const DRAIN_CHECK_MS = 50;
/** Extra time a stopping child gets beyond the grace period before SIGKILL. */
const KILL_MARGIN_SECONDS = 10;
/** A child reports at least every half second: a silence shorter than this means nothing. */
const MIN_SILENCE_SECONDS = 1.5;
/** Silence that would let this much of a lease run out gets the child killed first. */
const LEASE_SILENCE_SHARE = 0.8;
/** How often the parent looks for silent children. */
const SILENCE_CHECK_MS = 250;
const MAX_FAILURES_LISTED = 100;

interface Slot {
  readonly index: number;
  readonly child: ChildProcess;
  readonly startedAt: number;
  ready: boolean;
  counts: WorkerCounts;
  /** The leases it holds. */
  readonly ledger: ChildLedger;
  /** When it was last heard from (monotonic seconds). */
  heardAt: number;
  /** Killed by the parent for its silence. */
  unresponsive: boolean;
  /** Its quarantine processes, by job id. */
  readonly quarantine: Map<number, number>;
}

function addCounts(total: WorkerCounts, more: WorkerCounts): void {
  for (const name of Object.keys(total) as (keyof WorkerCounts)[]) total[name] += more[name] ?? 0;
}

/** A child's counts before its first report (worker-loop's emptyCounts, not imported: see above). */
function noCounts(): WorkerCounts {
  return { done: 0, failed: 0, retried: 0, lost: 0, released: 0, timedOut: 0 };
}

function monotonicSeconds(): number {
  return performance.now() / 1000;
}

/**
 * Handler modules of the package itself (the crawl's): the parent need not import them to check.
 * Each with the entry its children run: the runner's child, or one that carries this handler.
 */
const knownHandlers = new Map<string, string>();

/**
 * Marks a handler module of this package as known good: runWorkers then forks without importing
 * it first (the crawl's handler loads the parser, which the parent never uses). `childEntry`: a
 * file to fork instead of the runner's child, which runs it with this handler already in the same
 * file (src/crawler/crawl-worker.ts, bundled; it must register the handler, then import
 * child.js). Not exported from the package.
 */
export function knownHandlerModule(file: string, childEntry: string = CHILD_ENTRY): void {
  knownHandlers.set(file, childEntry);
}

/** `nodeOptions`, checked: command-line options of node, each a string starting with '-'. */
function checkNodeOptions(nodeOptions: readonly string[] | undefined): string[] {
  if (nodeOptions === undefined) return [];
  if (!Array.isArray(nodeOptions))
    throw new TypeError(
      `nodeOptions must be an array of strings, got ${describeValue(nodeOptions)}`,
    );
  for (const option of nodeOptions)
    if (typeof option !== 'string' || !option.startsWith('-'))
      throw new TypeError(
        `nodeOptions: ${JSON.stringify(option)} is not a node option (like '--max-old-space-size=512')`,
      );
  return [...nodeOptions];
}

/**
 * Runs the queue's jobs in `processes` child processes, `concurrency` at a time in each, until
 * `signal` aborts (or, with `once`, until the queue is drained).
 * @throws HandlerModuleError (before forking) when the handler module is missing, fails to load,
 * or exports no function; TypeError/RangeError for bad options.
 */
export async function runWorkers(options: RunWorkersOptions): Promise<RunSummary> {
  if (options === null || typeof options !== 'object')
    throw new TypeError('runWorkers(options): options must be an object');
  const processes =
    options.processes === undefined
      ? os.availableParallelism()
      : checkInteger('processes', options.processes, { min: 1 });
  const concurrency =
    options.concurrency === undefined
      ? 1
      : checkInteger('concurrency', options.concurrency, { min: 1 });
  const graceSeconds =
    options.graceSeconds === undefined
      ? 30
      : checkSeconds('graceSeconds', options.graceSeconds, { allowZero: true });
  const interval =
    options.progressIntervalSeconds === undefined
      ? 1
      : checkSeconds('progressIntervalSeconds', options.progressIntervalSeconds);
  if (options.leaseSeconds !== undefined) checkSeconds('leaseSeconds', options.leaseSeconds);
  const jobTimeoutSeconds =
    options.jobTimeoutSeconds === undefined
      ? null
      : checkSeconds('jobTimeoutSeconds', options.jobTimeoutSeconds);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    throw new TypeError('signal must be an AbortSignal');
  const given = checkQueue(options.queue);
  const handlerFile = handlerPath(options.handler);
  const childEntry = knownHandlers.get(handlerFile);
  if (childEntry === undefined) await loadHandler(handlerFile);
  const execArgv = [...childExecArgv(handlerFile), ...checkNodeOptions(options.nodeOptions)];
  const queue = typeof given === 'string' ? await openQueue(given) : given;
  try {
    const config: ChildConfig = {
      queue: queue.locator,
      handler: handlerFile,
      concurrency,
      leaseSeconds: options.leaseSeconds ?? (await queue.settings()).leaseSeconds,
      graceSeconds,
      jobTimeoutSeconds,
      holdSlotUntilAcked:
        options.holdSlotUntilAcked === undefined
          ? false
          : checkBoolean('holdSlotUntilAcked', options.holdSlotUntilAcked),
      suspects: [],
      execArgv,
    };
    return await new Supervisor(
      queue,
      config,
      childEntry ?? CHILD_ENTRY,
      execArgv,
      processes,
      interval,
      options,
    ).run();
  } finally {
    if (typeof given === 'string') await queue.close();
  }
}

/** Whether `value` looks like an AsyncWorkQueue (any backend). */
function isAsyncWorkQueue(value: unknown): value is AsyncWorkQueue<unknown> {
  const queue = value as AsyncWorkQueue<unknown> | null;
  return (
    typeof queue === 'object' &&
    queue !== null &&
    typeof queue.locator === 'string' &&
    typeof queue.takeMany === 'function' &&
    typeof queue.releaseById === 'function'
  );
}

/**
 * The queue option as a locator string or an AsyncWorkQueue whose locator the children can open.
 * @throws TypeError for anything else.
 */
function checkQueue(queue: RunWorkersOptions['queue']): string | AsyncWorkQueue<unknown> {
  if (typeof queue === 'string') {
    if (queue === '')
      throw new TypeError('queue must be a directory or a redis:// locator, got an empty string');
    return queue;
  }
  if (queue instanceof WorkQueue) return queue.async;
  if (!isAsyncWorkQueue(queue))
    throw new TypeError(
      `queue must be a directory, a redis:// locator, a WorkQueue or an AsyncWorkQueue, got ${String(queue)}`,
    );
  if (isRedisQueueLocator(queue.locator) && /^rediss?:\/\/#/i.test(queue.locator))
    throw new TypeError(
      `queue ${redacted(queue.locator)} was opened on your own Redis client: the worker processes cannot open it; pass its redis://host:port#name locator instead`,
    );
  return queue;
}

/** One run: the children, their restarts, faults, progress and the stop. */
class Supervisor {
  readonly #queue: AsyncWorkQueue<unknown>;
  readonly #config: ChildConfig;
  /** The file each child runs (CHILD_ENTRY, or one given with knownHandlerModule). */
  readonly #entry: string;
  readonly #execArgv: string[];
  readonly #slots: (Slot | undefined)[];
  readonly #interval: number;
  readonly #options: RunWorkersOptions;
  readonly #started = monotonicSeconds();
  readonly #startedEpoch = Date.now() / 1000;
  readonly #meter = new RateMeter();
  readonly #finishedCounts = noCounts();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #suspects = new Suspects();
  /** Seconds of silence after which a child is killed; undefined: never (no job timeout). */
  readonly #silenceLimit: number | undefined;
  #stopping = false;
  #reason: RunSummary['reason'] = 'stopped';
  #restarts = 0;
  #requeued = 0;
  #unresponsive = 0;
  #startFailures = 0;
  #fatal: Error | undefined;
  /** A drained check is on its way (with `once`): none starts beside it. */
  #checkingDrained = false;
  #allExited!: () => void;
  /** Dead children's leases being given back (awaited before the run's summary). */
  readonly #recovering = new Set<Promise<void>>();

  constructor(
    queue: AsyncWorkQueue<unknown>,
    config: ChildConfig,
    entry: string,
    execArgv: string[],
    processes: number,
    interval: number,
    options: RunWorkersOptions,
  ) {
    this.#queue = queue;
    this.#config = config;
    this.#entry = entry;
    this.#execArgv = execArgv;
    this.#slots = new Array(processes).fill(undefined);
    this.#interval = interval;
    this.#options = options;
    const timeout = config.jobTimeoutSeconds;
    // A child is silent only while something blocks its event loop; past a job's timeout plus
    // the grace that is a handler ignoring its signal. Killing it before its leases run out
    // lets its jobs come back without an attempt charged.
    this.#silenceLimit =
      timeout === null
        ? undefined
        : Math.max(
            MIN_SILENCE_SECONDS,
            Math.min(timeout + config.graceSeconds, config.leaseSeconds * LEASE_SILENCE_SHARE),
          );
  }

  async run(): Promise<RunSummary> {
    const { signal, once } = this.#options;
    if (signal?.aborted || (once && (await this.#queue.isDrained())))
      return await this.#summary(signal?.aborted ? 'stopped' : 'drained');
    const exited = new Promise<void>((resolve) => {
      this.#allExited = resolve;
    });
    const onAbort = () => this.#stop('stopped');
    signal?.addEventListener('abort', onAbort, { once: true });
    for (let index = 0; index < this.#slots.length; index++) this.#spawn(index);
    this.#every(this.#interval * 1000, async () => {
      const progress = await this.#progress();
      this.#options.onProgress?.(progress);
    });
    if (once) {
      // The whole queue: jobs leased by runners on other machines keep this one going. Looked at
      // every DRAIN_CHECK_MS, and at once when this run's children have ended all they held.
      this.#every(DRAIN_CHECK_MS, () => this.#checkDrained());
    }
    if (this.#silenceLimit !== undefined) this.#watchSilence(this.#silenceLimit);
    try {
      await exited;
      // The leases of the children that died last are given back before the counts are read.
      while (this.#recovering.size > 0) await Promise.all(this.#recovering);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      for (const timer of this.#timers) clearTimeout(timer);
    }
    if (this.#options.onProgress) this.#options.onProgress(await this.#progress());
    if (this.#fatal) throw this.#fatal;
    return await this.#summary(this.#reason);
  }

  /**
   * With `once`, stops when the queue is drained. Checks do not overlap; a failed one is
   * reported by the interval's tick, and ignored when it is the check of a report.
   */
  async #checkDrained(): Promise<void> {
    if (this.#stopping || this.#checkingDrained) return;
    this.#checkingDrained = true;
    try {
      if (await this.#queue.isDrained()) this.#stop('drained');
    } finally {
      this.#checkingDrained = false;
    }
  }

  /** Runs `tick` every `ms` (a tick still running is not started again; errors go to stderr). */
  #every(ms: number, tick: () => Promise<void> | void): void {
    let running = false;
    const timer = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await tick();
      } catch (error) {
        process.stderr.write(`diskcache work: ${(error as Error)?.message ?? String(error)}\n`);
      } finally {
        running = false;
      }
    }, ms);
    this.#timers.add(timer);
  }

  async #summary(reason: RunSummary['reason']): Promise<RunSummary> {
    const counts = { ...this.#finishedCounts };
    for (const slot of this.#slots) if (slot) addCounts(counts, slot.counts);
    return {
      reason,
      stats: await this.#queue.stats(),
      counts,
      restarts: this.#restarts,
      requeued: this.#requeued,
      unresponsive: this.#unresponsive,
      failures: await this.#failures(),
      elapsedSeconds: monotonicSeconds() - this.#started,
    };
  }

  /** The jobs that moved to the failed list since the run started. */
  async #failures(): Promise<RunFailure[]> {
    let failed: FailedJob<unknown>[];
    try {
      failed = await this.#queue.failed();
    } catch {
      return [];
    }
    return failed
      .filter((job) => job.failedAt >= this.#startedEpoch)
      .sort((a, b) => a.failedAt - b.failedAt)
      .slice(0, MAX_FAILURES_LISTED)
      .map(({ id, key, attempts, error }) => ({ id, key, attempts, error }));
  }

  /** A snapshot: the queue's global counts (every runner's work, on every machine). */
  async #progress(): Promise<RunProgress> {
    const stats = await this.#queue.stats();
    const now = monotonicSeconds();
    this.#meter.add(now, stats.done + stats.failed);
    const rate = this.#meter.rate();
    const remaining = stats.pending + stats.leased;
    return {
      ...stats,
      rate,
      etaSeconds: remaining === 0 ? 0 : rate > 0 ? remaining / rate : undefined,
      elapsedSeconds: now - this.#started,
      workers: this.#slots.filter(Boolean).length,
      restarts: this.#restarts,
    };
  }

  #spawn(index: number): void {
    const config: ChildConfig = { ...this.#config, suspects: this.#suspects.ids() };
    const child = fork(this.#entry, [JSON.stringify(config)], {
      execArgv: this.#execArgv,
      env: workerEnvironment(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const slot: Slot = {
      index,
      child,
      startedAt: monotonicSeconds(),
      ready: false,
      counts: noCounts(),
      ledger: new ChildLedger(),
      heardAt: monotonicSeconds(),
      unresponsive: false,
      quarantine: new Map(),
    };
    this.#slots[index] = slot;
    child.on('message', (message: ChildMessage) => {
      slot.heardAt = monotonicSeconds();
      switch (message?.type) {
        case 'jobs':
          this.#suspects.ended(slot.ledger.apply(message));
          // The last jobs of a run: it ends now, not at the next tick (up to DRAIN_CHECK_MS).
          if (
            this.#options.once &&
            message.ended.length > 0 &&
            this.#slots.every((other) => other === undefined || other.ledger.size === 0)
          )
            this.#checkDrained().catch(() => {});
          break;
        case 'counts':
          slot.counts = message.counts;
          break;
        case 'ready':
          slot.ready = true;
          this.#startFailures = 0;
          break;
        case 'quarantine':
          if (message.pid === undefined) slot.quarantine.delete(message.id);
          else slot.quarantine.set(message.id, message.pid);
          break;
        case 'cleared':
          if (this.#suspects.clear(message.id)) this.#tellSuspects();
          break;
      }
    });
    // 'error' (the fork itself failed) is followed by 'exit' or by nothing: handle both once.
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      this.#exited(slot, code, signal);
    };
    child.on('exit', end);
    child.on('error', (error) => {
      process.stderr.write(
        `diskcache work: worker ${index} (pid ${child.pid}): ${error.message}\n`,
      );
      if (child.exitCode === null && child.signalCode === null && child.pid === undefined)
        end(null, null);
    });
    if (child.pid !== undefined)
      this.#options.onEvent?.({ type: 'spawn', worker: index, pid: child.pid });
  }

  /** Sends every child the current suspects. */
  #tellSuspects(): void {
    const message: ParentMessage = { type: 'suspects', ids: this.#suspects.ids() };
    for (const slot of this.#slots)
      if (slot?.child.connected) slot.child.send(message, (error) => error && undefined);
  }

  /** Kills children that have been silent past `limit` seconds while not stopping. */
  #watchSilence(limit: number): void {
    let lastCheck = monotonicSeconds();
    this.#every(SILENCE_CHECK_MS, () => {
      const now = monotonicSeconds();
      const stalled = now - lastCheck > limit / 2;
      lastCheck = now;
      for (const slot of this.#slots) {
        if (slot === undefined || !slot.ready || slot.unresponsive || this.#stopping) continue;
        // This process was too busy to listen: it cannot tell who was silent.
        if (stalled) slot.heardAt = now;
        else if (now - slot.heardAt > limit) {
          slot.unresponsive = true;
          this.#unresponsive++;
          this.#options.onEvent?.({
            type: 'unresponsive',
            worker: slot.index,
            pid: slot.child.pid ?? -1,
            silentSeconds: Math.round((now - slot.heardAt) * 10) / 10,
          });
          slot.child.kill('SIGKILL');
        }
      }
    });
  }

  /**
   * Gives back the leases a dead child held, without charging an attempt; unless the run is
   * stopping, the jobs that were running become suspects. Returns [requeued, new suspects].
   */
  async #recover(slot: Slot): Promise<[number, number]> {
    for (const pid of slot.quarantine.values()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const leases = slot.ledger.leases();
    if (leases.length === 0) return [0, 0];
    let suspects = 0;
    if (!this.#stopping) {
      suspects = this.#suspects.afterDeath(leases, this.#config.concurrency).length;
      // Before the jobs are back: a child that takes one should already know to run it alone.
      if (suspects > 0) this.#tellSuspects();
    }
    let requeued = 0;
    try {
      requeued = (await this.#queue.releaseById(leases)).length;
    } catch (error) {
      // They come back when their leases run out (charged, as if this runner had died).
      process.stderr.write(
        `diskcache work: could not give back the jobs of worker ${slot.index}: ${(error as Error).message}\n`,
      );
    }
    this.#requeued += requeued;
    return [requeued, suspects];
  }

  #exited(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    addCounts(this.#finishedCounts, slot.counts);
    if (this.#slots[slot.index] === slot) this.#slots[slot.index] = undefined;
    const recovery = this.#recover(slot)
      .then(([requeued, suspects]) => this.#afterExit(slot, code, signal, requeued, suspects))
      .finally(() => this.#recovering.delete(recovery));
    this.#recovering.add(recovery);
  }

  #afterExit(
    slot: Slot,
    code: number | null,
    signal: NodeJS.Signals | null,
    requeued: number,
    suspects: number,
  ): void {
    const event = {
      type: 'exit',
      worker: slot.index,
      pid: slot.child.pid ?? -1,
      code,
      signal,
      requeued,
      suspects,
    } as const;
    if (this.#stopping) {
      this.#options.onEvent?.(event);
      this.#checkAllExited();
      return;
    }
    if (code === EXIT_HANDLER_MODULE) {
      this.#options.onEvent?.(event);
      this.#fatal = new HandlerModuleError(
        `a worker could not load the handler module ${this.#config.handler} (its message is above)`,
      );
      this.#stop('stopped');
      return;
    }
    this.#startFailures = slot.ready ? 0 : this.#startFailures + 1;
    if (this.#startFailures >= MAX_START_FAILURES) {
      this.#options.onEvent?.(event);
      this.#fatal = new Error(
        `workers keep exiting before they start (${this.#startFailures} in a row; the last with ${signal ?? `code ${code}`})`,
      );
      this.#stop('stopped');
      return;
    }
    const lived = monotonicSeconds() - slot.startedAt;
    const restartInSeconds =
      lived < QUICK_DEATH_SECONDS
        ? retryDelay(0.2, this.#startFailures + 1, MAX_RESTART_DELAY_SECONDS)
        : 0.1;
    this.#options.onEvent?.({ ...event, restartInSeconds });
    this.#restarts++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopping) this.#spawn(slot.index);
    }, restartInSeconds * 1000);
    this.#timers.add(timer);
  }

  #stop(reason: RunSummary['reason']): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#reason = reason;
    this.#options.onEvent?.({ type: 'stopping', reason });
    for (const slot of this.#slots) {
      if (slot === undefined) continue;
      if (slot.child.connected)
        slot.child.send({ type: 'stop', graceSeconds: this.#config.graceSeconds });
      else slot.child.kill('SIGTERM');
    }
    const killer = setTimeout(
      () => {
        for (const slot of this.#slots) slot?.child.kill('SIGKILL');
      },
      (this.#config.graceSeconds + KILL_MARGIN_SECONDS) * 1000,
    );
    this.#timers.add(killer);
    this.#checkAllExited();
  }

  #checkAllExited(): void {
    if (this.#stopping && this.#slots.every((slot) => slot === undefined)) this.#allExited();
  }
}
