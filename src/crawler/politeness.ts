/**
 * politeness: how hard the crawl may hit one host, shared by every process of the crawl (and, on
 * a Redis queue, every machine). Three limits apply to every request (pages, robots.txt and
 * retries alike):
 * - a per-host rate (`--rate`, and robots.txt's Crawl-delay when it is slower): a token bucket
 *   per host in the crawl's shared state (crawl-state.ts: the throttle recipe over a Cache in the
 *   crawl directory, or a RedisThrottle), so all processes spend one budget;
 * - a host pause: a 429/503 with Retry-After stops every process from asking that host again
 *   before the time it asked for (also kept in the shared state);
 * - a per-host concurrency cap, per process (an in-process p-queue per host: a cross-process
 *   semaphore would cost a write per request and strand slots held by killed processes).
 * It schedules requests; it does not make them.
 */
import PQueue from 'p-queue';
import type { Limiter, PolitenessStore } from './crawl-state.js';

/** Options of `Politeness`. */
export interface PolitenessOptions {
  /** Requests per second per host, across processes; undefined: no limit (but Crawl-delay). */
  readonly rate?: number | undefined;
  /** Requests one process runs at once to one host. */
  readonly hostConcurrency: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The politeness of one crawl, in one process. */
export class Politeness {
  readonly #store: PolitenessStore;
  readonly #rate: number | undefined;
  readonly #hostConcurrency: number;
  readonly #hosts = new Map<string, PQueue>();
  readonly #throttles = new Map<string, Limiter>();
  readonly #crawlDelays = new Map<string, number>();

  constructor(store: PolitenessStore, options: PolitenessOptions) {
    this.#store = store;
    this.#rate = options.rate;
    this.#hostConcurrency = options.hostConcurrency;
  }

  /** Records robots.txt's Crawl-delay for a host (the slower of it and `rate` applies). */
  setCrawlDelay(host: string, seconds: number | undefined): void {
    if (seconds === undefined) return;
    this.#crawlDelays.set(host, seconds);
    this.#throttles.delete(host);
  }

  /** Asks every process to leave `host` alone for `seconds` (Retry-After; 0: no pause, no write). */
  async pauseHost(host: string, seconds: number): Promise<void> {
    if (seconds > 0) await this.#store.pause(host, seconds);
  }

  /** Runs `request` when `host` may be asked again: after its pause, a slot and a token. */
  async schedule<R>(host: string, request: () => Promise<R>, signal?: AbortSignal): Promise<R> {
    let queue = this.#hosts.get(host);
    if (!queue) {
      queue = new PQueue({ concurrency: this.#hostConcurrency });
      this.#hosts.set(host, queue);
    }
    return queue.add(async () => {
      await this.#waitForPause(host, signal);
      const limited = this.#throttleFor(host);
      return (limited ? await limited(request) : await request()) as R;
    }) as Promise<R>;
  }

  async #waitForPause(host: string, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = await this.#store.pausedFor(host);
      if (wait <= 0) return;
      await sleep(Math.min(wait, 5) * 1000, signal);
    }
  }

  #throttleFor(host: string): Limiter | undefined {
    const delay = this.#crawlDelays.get(host);
    const perSecond = Math.min(this.#rate ?? Infinity, delay ? 1 / delay : Infinity);
    if (!Number.isFinite(perSecond)) return undefined;
    let limited = this.#throttles.get(host);
    if (!limited) {
      limited = this.#store.limiter(host, 1 / perSecond);
      this.#throttles.set(host, limited);
    }
    return limited;
  }
}
