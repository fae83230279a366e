/**
 * The dashboard's sampler: every second it reads each queue's counts (and each cache's figures),
 * derives the throughput (done jobs per second) and keeps a bounded history of it for the chart.
 * A slow source (a Redis server that does not answer) never blocks the others: its previous
 * reading stays until its pending read settles. Listeners (the server-sent event streams) get
 * every sample.
 */
import type { WorkQueueStats } from '../collections/async-work-queue.js';
import type { CacheSource, CacheView, CrawlView, QueueSource } from './sources.js';

/** One queue in a sample. */
export interface QueueSample extends WorkQueueStats {
  readonly locator: string;
  readonly kind: 'queue' | 'crawl';
  /** Jobs done per second since the previous sample. */
  readonly rate: number;
  /** Why the counts could not be read (they are then the last known ones). */
  readonly error?: string;
  readonly crawl?: CrawlView;
}

/** One cache in a sample: its figures, or why they could not be read. */
export type CacheSample = CacheView | { readonly locator: string; readonly error: string };

/** What the sampler saw at one moment. */
export interface Sample {
  /** Epoch seconds. */
  readonly time: number;
  readonly queues: readonly QueueSample[];
  readonly caches: readonly CacheSample[];
}

/** The throughput history: `rates[q][i]` is queue q's done jobs per second at `time[i]`. */
export interface History {
  readonly time: number[];
  readonly rates: number[][];
}

export interface MonitorOptions {
  /** Milliseconds between samples. @default 1000 */
  readonly intervalMs?: number;
  /** Samples kept for the chart. @default 600 (ten minutes at one a second) */
  readonly historyLength?: number;
}

const ZERO: WorkQueueStats = { pending: 0, leased: 0, done: 0, failed: 0 };

interface QueueState {
  stats: WorkQueueStats;
  error: string | undefined;
  /** The done count and time the rate is measured from. */
  baseDone: number | undefined;
  baseTime: number;
  rate: number;
  reading: Promise<void> | undefined;
}

/** Samples the sources on a timer; see the file header. */
export class Monitor {
  readonly queues: readonly QueueSource[];
  readonly caches: readonly CacheSource[];
  readonly #intervalMs: number;
  readonly #historyLength: number;
  readonly #states: QueueState[];
  readonly #history: History;
  readonly #listeners = new Set<(sample: Sample) => void>();
  #latest: Sample;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    queues: readonly QueueSource[],
    caches: readonly CacheSource[],
    options: MonitorOptions = {},
  ) {
    const { intervalMs = 1000, historyLength = 600 } = options;
    if (!Number.isInteger(intervalMs) || intervalMs < 10)
      throw new RangeError(`intervalMs must be an integer of at least 10, got ${intervalMs}`);
    if (!Number.isInteger(historyLength) || historyLength < 2)
      throw new RangeError(`historyLength must be an integer of at least 2, got ${historyLength}`);
    this.queues = queues;
    this.caches = caches;
    this.#intervalMs = intervalMs;
    this.#historyLength = historyLength;
    this.#states = queues.map(() => ({
      stats: ZERO,
      error: undefined,
      baseDone: undefined,
      baseTime: 0,
      rate: 0,
      reading: undefined,
    }));
    this.#history = { time: [], rates: queues.map(() => []) };
    this.#latest = { time: Date.now() / 1000, queues: [], caches: [] };
  }

  /** Takes a first sample, then one every interval until `close`. */
  async start(): Promise<void> {
    await this.sample();
    const loop = async () => {
      if (this.#closed) return;
      const started = Date.now();
      await this.sample();
      if (this.#closed) return;
      this.#timer = setTimeout(loop, Math.max(0, this.#intervalMs - (Date.now() - started)));
    };
    this.#timer = setTimeout(loop, this.#intervalMs);
  }

  /** The latest sample. */
  get latest(): Sample {
    return this.#latest;
  }

  /** A copy of the throughput history. */
  history(): History {
    return {
      time: [...this.#history.time],
      rates: this.#history.rates.map((series) => [...series]),
    };
  }

  /** Calls `listener` with every new sample; returns the function that stops it. */
  subscribe(listener: (sample: Sample) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the sampler that `count` done jobs of queue `index` were purged (not a negative rate). */
  purged(index: number, count: number): void {
    const state = this.#states[index];
    if (state?.baseDone !== undefined) state.baseDone = Math.max(0, state.baseDone - count);
  }

  /** Reads one queue's counts into its state (errors are kept as text). */
  #read(index: number): Promise<void> {
    const state = this.#states[index]!;
    const source = this.queues[index]!;
    state.reading ??= (async () => {
      try {
        const stats = await source.stats();
        const now = Date.now() / 1000;
        if (state.baseDone !== undefined && now > state.baseTime)
          state.rate = Math.max(0, stats.done - state.baseDone) / (now - state.baseTime);
        state.baseDone = stats.done;
        state.baseTime = now;
        state.stats = stats;
        state.error = undefined;
        // Not awaited: a long crawl summary must not hold up this queue's counts.
        source.refreshCrawl(stats.done, now).catch(() => undefined);
      } catch (error) {
        state.error = source.describe(error);
      } finally {
        state.reading = undefined;
      }
    })();
    return state.reading;
  }

  /** Takes one sample now (waiting at most one interval for slow sources) and publishes it. */
  async sample(): Promise<Sample> {
    const readings = Promise.all(this.queues.map((_, index) => this.#read(index)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      readings,
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.#intervalMs);
      }),
    ]);
    clearTimeout(timer);
    const time = Date.now() / 1000;
    const queues = this.queues.map((source, index): QueueSample => {
      const state = this.#states[index]!;
      const crawl = source.crawl;
      return {
        locator: source.locator,
        kind: source.kind,
        ...state.stats,
        rate: state.rate,
        ...(state.error === undefined ? {} : { error: state.error }),
        ...(crawl === undefined ? {} : { crawl }),
      };
    });
    const caches = this.caches.map((source): CacheSample => {
      try {
        return source.view();
      } catch (error) {
        return { locator: source.locator, error: (error as Error).message };
      }
    });
    const sample: Sample = { time, queues, caches };
    this.#latest = sample;
    const history = this.#history;
    history.time.push(time);
    for (const [index, queue] of queues.entries()) history.rates[index]!.push(queue.rate);
    if (history.time.length > this.#historyLength) {
      history.time.shift();
      for (const series of history.rates) series.shift();
    }
    for (const listener of this.#listeners) listener(sample);
    return sample;
  }

  /** Stops sampling (the sources stay open: their owner closes them). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#listeners.clear();
  }
}
