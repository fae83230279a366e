/**
 * crawl-handler: the job handler of the crawl, run by the worker runner in every worker process.
 * A job is one URL: obey robots.txt and the politeness limits, fetch it, follow a redirect by
 * queueing its target as a job of its own (keyed by URL like any link, so a page is fetched once
 * however many links and redirects lead to it), queue its in-scope links (or defer those beyond
 * --max-depth/--max-pages), run the user's page handler, and return the page's record, which the
 * queue stores in its results under the URL. Network errors, timeouts, 5xx and 429 throw, so the
 * queue retries them with backoff (a Retry-After first pauses the host for every process);
 * 4xx answers are records (a dead link is a fact, not a failure).
 */
import { RetryLaterError } from '../cache/errors.js';
import type { AsyncWorkQueue } from '../collections/async-work-queue.js';
import { openQueue } from '../collections/open-queue.js';
import { type JobContext, loadHandler } from '../runner/handler.js';
import { type CrawlConfig, readCrawlConfig, recordStatus, scopeOf } from './crawl-config.js';
import { type CrawlState, openCrawlState } from './crawl-state.js';
import { describeFetchError, type FetchResult, fetchPage, retryAfterSeconds } from './fetcher.js';
import { decodeBody, isHtml, normalizeUrl, parseHtml } from './links.js';
import { Politeness } from './politeness.js';
import { Robots } from './robots.js';

/** One hop of a redirect chain. */
export interface RedirectHop {
  /** The URL that answered with a redirect. */
  readonly url: string;
  readonly status: number;
  /** Where it pointed (resolved), or the raw Location when it is not an http(s) URL. */
  readonly location: string;
}

/** A crawl job's payload. */
export interface CrawlJob {
  readonly url: string;
  /** Link hops from a start page (a redirect does not add one). */
  readonly depth: number;
  /** The redirects that led here, when this URL is a redirect's target. */
  readonly redirects?: readonly RedirectHop[];
}

/** Why a URL was recorded without being fetched (or without following its redirect). */
export type SkipReason = 'robots' | 'redirect-out-of-scope' | 'redirect-robots';

/**
 * What the crawl records for each URL, under the URL in the queue's results. A redirect is
 * recorded under its URL with its status, and its target gets a record of its own (with the chain
 * that led to it in `redirects`).
 */
export interface PageRecord {
  readonly url: string;
  /** The URL whose answer this record describes: `url` itself, or a redirect's target. */
  readonly finalUrl: string;
  /** The redirects that led to `url` (and, for a redirect, its own hop last). */
  readonly redirects: readonly RedirectHop[];
  /** The HTTP status (0 when not fetched: see `skipped`). */
  readonly status: number;
  readonly contentType: string;
  readonly title: string;
  /** Body bytes received (at most the fetch limit). */
  readonly bytes: number;
  /** The page's in-scope links (queued, known already, or deferred). */
  readonly outlinks: readonly string[];
  readonly depth: number;
  /** When it was fetched, epoch seconds. */
  readonly fetchedAt: number;
  /** Seconds the request took. */
  readonly elapsed: number;
  /** What went wrong with a page that still got a record (a redirect loop, the page handler...). */
  readonly error?: string;
  readonly skipped?: SkipReason;
  /** Extra fields returned by the user's page handler. */
  readonly [field: string]: unknown;
}

/** What a user's page handler (`--handler`, `crawl({handler})`) receives for every fetched page. */
export interface CrawledPage {
  /** The URL fetched. */
  readonly url: string;
  /** Same as `url` (redirect targets are pages of their own). */
  readonly finalUrl: string;
  /** The redirects that led to this URL. */
  readonly redirects: readonly RedirectHop[];
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string;
  /** The body decoded by its declared charset. */
  readonly body: string;
  /** The body as received. */
  readonly rawBody: Buffer;
  /** The page's links, absolute (all of them, in scope or not). */
  readonly links: readonly string[];
  readonly title: string;
  readonly depth: number;
}

/**
 * A page handler module's default export: returns extra fields for the page's record (plain
 * data), or nothing. What it throws is recorded as the record's `error`; the page is not fetched
 * again for it.
 */
export type PageHandler = (
  page: CrawledPage,
) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;

/** Why a link was not queued now; kept beside the queue (crawl-state.ts). */
export interface DeferredLink {
  readonly url: string;
  readonly depth: number;
  readonly reason: 'max-depth' | 'max-pages';
  /** The page it was found on. */
  readonly from: string;
  /** The redirects that led to it, when it is a redirect's target. */
  readonly redirects?: readonly RedirectHop[];
}

interface Worker {
  readonly config: CrawlConfig;
  /** The crawl's queue (a directory or Redis: one code path for both). */
  readonly frontier: AsyncWorkQueue<CrawlJob>;
  /** The deferred links and the politeness state, on the queue's backend. */
  readonly state: CrawlState;
  readonly politeness: Politeness;
  readonly scope: ReturnType<typeof scopeOf>;
  readonly pageHandler: Promise<PageHandler | undefined>;
}

let worker: Promise<Worker> | undefined;
const robotsByOrigin = new Map<string, Promise<Robots>>();

async function openWorker(): Promise<Worker> {
  const config = readCrawlConfig();
  const [frontier, state] = await Promise.all([
    openQueue<CrawlJob>(config.queue),
    openCrawlState(config.queue),
  ]);
  return {
    config,
    frontier,
    state,
    politeness: new Politeness(state.politeness, {
      rate: config.rate ?? undefined,
      hostConcurrency: config.hostConcurrency,
    }),
    scope: scopeOf(config),
    pageHandler:
      config.handler === null
        ? Promise.resolve(undefined)
        : (loadHandler(config.handler) as Promise<PageHandler>),
  };
}

function open(): Promise<Worker> {
  worker ??= openWorker().catch((error: unknown) => {
    worker = undefined; // the next job tries again (Redis may be back)
    throw error;
  });
  return worker;
}

// A worker whose parent died must go quietly: a send on the closed channel or a write to a
// closed pipe is not worth a stack trace (the runner's child stops on 'disconnect').
process.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_IPC_CHANNEL_CLOSED') throw error;
});
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

/** An error whose text (in the failed list) is its message alone, without a stack. */
function crawlError(message: string, retryInSeconds?: number): Error {
  // With retryInSeconds, the queue retries the page after it rather than after its backoff.
  const error =
    retryInSeconds === undefined
      ? new Error(message)
      : new RetryLaterError(message, retryInSeconds);
  error.stack = message;
  return error;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A GET under the politeness rules; network errors become short crawl errors. */
async function politeFetch(
  { config, politeness }: Worker,
  url: string,
  signal: AbortSignal,
): Promise<{ response: FetchResult; elapsed: number }> {
  const host = new URL(url).host;
  return politeness.schedule(
    host,
    async () => {
      const began = performance.now();
      try {
        const response = await fetchPage(url, {
          timeoutSeconds: config.timeoutSeconds,
          userAgent: config.userAgent,
          signal,
        });
        return { response, elapsed: (performance.now() - began) / 1000 };
      } catch (error) {
        if (signal.aborted) throw error;
        throw crawlError(`${url}: ${describeFetchError(error)}`);
      }
    },
    signal,
  );
}

/** Throws (so the queue retries) on answers worth retrying; pauses the host on Retry-After. */
async function checkRetry(work: Worker, url: string, response: FetchResult): Promise<void> {
  const { status } = response;
  if (status < 500 && status !== 429) return;
  if (status === 429 || status === 503) {
    const seconds = retryAfterSeconds(response.headers['retry-after']);
    if (seconds !== undefined) {
      // The host waits that long for every process, and this page is retried then: not later
      // (the queue's backoff would add half a second and more to a "Retry-After: 0").
      const wait = Math.min(seconds, work.config.maxRetryAfterSeconds);
      await work.politeness.pauseHost(new URL(url).host, wait);
      throw crawlError(`${url}: HTTP ${status} (Retry-After: ${seconds} s)`, wait);
    }
  }
  throw crawlError(`${url}: HTTP ${status}`);
}

/** robots.txt of an origin, read once per process (fetched once per crawl) before any of its pages. */
function robotsFor(work: Worker, origin: string, signal: AbortSignal): Promise<Robots> {
  let robots = robotsByOrigin.get(origin);
  if (!robots) {
    robots = fetchRobots(work, origin, signal);
    robotsByOrigin.set(origin, robots);
    // A robots.txt that could not be read (5xx, network) is tried again by the next page.
    robots.catch(() => robotsByOrigin.delete(origin));
  }
  return robots;
}

/** robots.txt of an origin: as another process of the crawl stored it, else fetched and stored. */
async function fetchRobots(work: Worker, origin: string, signal: AbortSignal): Promise<Robots> {
  const text =
    (await work.state.robots.get(origin)) ?? (await downloadRobots(work, origin, signal));
  const robots = new Robots(text, work.config.userAgent, origin);
  work.politeness.setCrawlDelay(new URL(origin).host, robots.crawlDelaySeconds());
  return robots;
}

/** Fetches robots.txt (its redirects followed) and stores its body; '' allows everything. */
async function downloadRobots(work: Worker, origin: string, signal: AbortSignal): Promise<string> {
  let url = `${origin}/robots.txt`;
  let text = ''; // too many redirects: RFC 9309 treats it as unavailable
  for (let hop = 0; hop <= 5; hop++) {
    const { response } = await politeFetch(work, url, signal);
    const location = response.headers.location;
    if (REDIRECTS.has(response.status) && location) {
      const next = normalizeUrl(location, url);
      if (next === null) break;
      url = next;
      continue;
    }
    await checkRetry(work, url, response);
    // RFC 9309: a 4xx (no robots.txt) allows everything.
    if (response.status < 400) text = decodeBody(response.body, 'text/plain; charset=utf-8').text;
    break;
  }
  await work.state.robots.set(origin, text);
  return text;
}

/**
 * URLs this process knows to be in the queue (it put them, or its put found them there): their
 * links need no statement. Bounded: past KNOWN_MAX URLs it starts over (the queue's unique key
 * still deduplicates; this only saves the statements).
 */
const known = new Set<string>();
const KNOWN_MAX = 200_000;

function remember(urls: readonly string[]): void {
  if (known.size + urls.length > KNOWN_MAX) known.clear();
  for (const url of urls) known.add(url);
}

/**
 * Jobs in the queue (all states), as last counted plus those this process added since. Counting
 * reads every row, so it is done again only when the estimate comes near `maxPages` or is more
 * than a second old (other processes add jobs too: the limit is approximate, as documented).
 */
const queued = { estimate: 0, countedAt: Number.NEGATIVE_INFINITY };

async function roomLeft(
  frontier: AsyncWorkQueue<CrawlJob>,
  maxPages: number,
  wanted: number,
): Promise<number> {
  const now = performance.now();
  if (queued.estimate + wanted * 2 >= maxPages || now - queued.countedAt > 1000) {
    const { pending, leased, done, failed } = await frontier.stats();
    queued.estimate = pending + leased + done + failed;
    queued.countedAt = now;
  }
  return maxPages - queued.estimate;
}

interface PendingPut {
  readonly jobs: readonly CrawlJob[];
  readonly resolve: (ids: (number | undefined)[]) => void;
  readonly reject: (error: unknown) => void;
}
/** The puts waiting for the end of this turn, by frontier. */
const pendingPuts = new Map<AsyncWorkQueue<CrawlJob>, PendingPut[]>();

/**
 * `frontier.putMany` for the links of every page that gets here in the same turn of the event
 * loop, in one call (one transaction or script): pages finish in bursts, and a transaction per
 * page was a tenth of a worker's CPU. Each caller gets its own jobs' ids, after the commit.
 */
function putLinks(
  frontier: AsyncWorkQueue<CrawlJob>,
  jobs: readonly CrawlJob[],
): Promise<(number | undefined)[]> {
  return new Promise((resolve, reject) => {
    let group = pendingPuts.get(frontier);
    if (group === undefined) {
      group = [];
      pendingPuts.set(frontier, group);
      setImmediate(() => void flushPuts(frontier));
    }
    group.push({ jobs, resolve, reject });
  });
}

async function flushPuts(frontier: AsyncWorkQueue<CrawlJob>): Promise<void> {
  const group = pendingPuts.get(frontier) ?? [];
  pendingPuts.delete(frontier);
  try {
    const ids = await frontier.putMany(
      group.flatMap((put) => put.jobs),
      { key: (job) => job.url },
    );
    let next = 0;
    for (const put of group) {
      put.resolve(ids.slice(next, next + put.jobs.length));
      next += put.jobs.length;
    }
  } catch (error) {
    for (const put of group) put.reject(error);
  }
}

/** Queues links (or defers them past the limits); returns how many were deferred. */
async function queueLinks(
  work: Worker,
  links: readonly string[],
  depth: number,
  from: string,
  redirects?: readonly RedirectHop[],
): Promise<number> {
  // A URL this process already queued (or found queued) is in the queue for good: no statement.
  const fresh = links.filter((url) => !known.has(url));
  if (fresh.length === 0) return 0;
  const { config, frontier } = work;
  const later: DeferredLink[] = [];
  if (depth > config.maxDepth) {
    for (const url of fresh) later.push({ url, depth, reason: 'max-depth', from });
  } else {
    let room = await roomLeft(frontier, config.maxPages, fresh.length);
    let next = 0;
    // Known URLs take no room: put in batches of the room left until it is used up.
    while (next < fresh.length && room > 0) {
      const batch = fresh.slice(next, next + room);
      next += batch.length;
      const ids = await putLinks(
        frontier,
        batch.map((url) => (redirects ? { url, depth, redirects } : { url, depth })),
      );
      const added = ids.filter((id) => id !== undefined).length;
      room -= added;
      queued.estimate += added;
      remember(batch);
    }
    for (const url of fresh.slice(next))
      later.push({ url, depth, reason: 'max-pages', from, ...(redirects ? { redirects } : {}) });
  }
  if (later.length > 0) await work.state.deferred().addMany(later);
  return later.length;
}

/**
 * Each record's tag in a directory (the runner calls this export: see `ResultTagger`), so that the
 * summary counts the records with one query instead of reading each of them.
 */
export const resultTag: (record: PageRecord) => string = recordStatus;

/** Fetches one URL, queues what it leads to, and returns its record. */
export default async function crawlPage(job: CrawlJob, context: JobContext): Promise<PageRecord> {
  const work = await open();
  const url = new URL(job.url);
  const redirects = job.redirects ?? [];
  const base = {
    url: job.url,
    finalUrl: job.url,
    redirects,
    status: 0,
    contentType: '',
    title: '',
    bytes: 0,
    outlinks: [] as string[],
    depth: job.depth,
    fetchedAt: Date.now() / 1000,
    elapsed: 0,
  };
  const robots = await robotsFor(work, url.origin, context.signal);
  if (!robots.allows(job.url)) return { ...base, skipped: 'robots' };

  const { response, elapsed } = await politeFetch(work, job.url, context.signal);
  await checkRetry(work, job.url, response);
  const record = {
    ...base,
    fetchedAt: Date.now() / 1000,
    elapsed,
    status: response.status,
    contentType: response.contentType,
    bytes: response.bytes,
  };

  const location = response.headers.location;
  if (REDIRECTS.has(response.status) && location !== undefined)
    return followRedirect(work, job, record, location, context.signal);

  const html = response.status >= 200 && response.status < 300 && isHtml(response.contentType);
  const pageHandler = await work.pageHandler;
  // Only HTML is parsed; other bodies are decoded only for a page handler.
  const body = html || pageHandler ? decodeBody(response.body, response.contentType).text : '';
  const parsed = html ? parseHtml(body, job.url) : { title: '', links: [] };
  const outlinks = parsed.links.filter((link) => work.scope(link) === undefined);
  if (outlinks.length > 0) await queueLinks(work, outlinks, job.depth + 1, job.url);
  const page: PageRecord = { ...record, title: parsed.title, outlinks };
  if (!pageHandler) return page;
  try {
    const extra = await pageHandler({
      url: job.url,
      finalUrl: job.url,
      redirects,
      status: response.status,
      headers: response.headers,
      contentType: response.contentType,
      body,
      rawBody: response.body,
      links: parsed.links,
      title: parsed.title,
      depth: job.depth,
    });
    return extra && typeof extra === 'object' ? { ...extra, ...page } : page;
  } catch (error) {
    return { ...page, error: `page handler: ${(error as Error)?.message ?? String(error)}` };
  }
}

/** A redirect: its target becomes a job of its own, if it is new, in scope and allowed. */
async function followRedirect(
  work: Worker,
  job: CrawlJob,
  record: PageRecord,
  location: string,
  signal: AbortSignal,
): Promise<PageRecord> {
  const target = normalizeUrl(location, job.url);
  const chain = [
    ...(job.redirects ?? []),
    { url: job.url, status: record.status, location: target ?? location },
  ];
  const redirect = { ...record, finalUrl: target ?? job.url, redirects: chain };
  if (target === null) return { ...redirect, error: `redirect to a non-http(s) URL: ${location}` };
  if (chain.some((hop) => hop.url === target))
    return { ...redirect, error: `redirect loop: ${target} redirects back to itself` };
  if (chain.length > work.config.maxRedirects)
    return { ...redirect, error: `more than ${work.config.maxRedirects} redirects` };
  if (work.scope(target) !== undefined) return { ...redirect, skipped: 'redirect-out-of-scope' };
  const robots = await robotsFor(work, new URL(target).origin, signal);
  if (!robots.allows(target)) return { ...redirect, skipped: 'redirect-robots' };
  // Like a link (deduplicated by its key), at the same depth: a redirect is not a hop.
  await queueLinks(work, [target], job.depth, job.url, chain);
  return redirect;
}
