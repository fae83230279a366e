/**
 * crawl-handler: the job handler of the crawl, run by the worker runner in every worker process.
 * A job is one URL: fetch it (obeying robots.txt), queue its links (the URL is the job key, so a
 * page is queued once however many pages link to it) and return a small record that the queue
 * stores in its results under the URL. Network errors and 5xx/429 answers throw, so the queue
 * retries them with backoff; 4xx answers are results (a dead link is a fact, not a failure).
 */
import { WorkQueue } from '../collections/work-queue.js';
import type { JobContext } from '../runner/handler.js';
import { type CrawlConfig, readCrawlConfig } from './crawl-config.js';
import { fetchPage } from './fetcher.js';
import { extractLinks, extractTitle } from './links.js';
import { Robots } from './robots.js';

/** A crawl job's payload. */
export interface CrawlJob {
  readonly url: string;
  readonly depth: number;
}

/** What the crawl records for each page, under its URL in the queue's results. */
export interface PageRecord {
  readonly url: string;
  readonly status: number;
  readonly depth: number;
  readonly title: string;
  readonly bytes: number;
  /** Links found on the page (same origin or not). */
  readonly links: number;
  /** Why the page was not fetched, when it was not. */
  readonly skipped?: 'robots';
  readonly fetchedAt: number;
  readonly pid: number;
}

let config: CrawlConfig | undefined;
let queue: WorkQueue<CrawlJob> | undefined;
const robotsByOrigin = new Map<string, Promise<Robots>>();

function open(): { config: CrawlConfig; queue: WorkQueue<CrawlJob> } {
  config ??= readCrawlConfig();
  queue ??= new WorkQueue<CrawlJob>(config.queueDirectory);
  return { config, queue };
}

/** robots.txt of an origin, fetched once per process (a missing one allows everything). */
function robotsFor(origin: string, settings: CrawlConfig, signal: AbortSignal): Promise<Robots> {
  let robots = robotsByOrigin.get(origin);
  if (!robots) {
    robots = fetchPage(`${origin}/robots.txt`, {
      timeoutSeconds: settings.timeoutSeconds,
      userAgent: settings.userAgent,
      signal,
    })
      .then((page) => new Robots(page.status === 200 ? page.body : '', settings.userAgent))
      .catch(() => new Robots(''));
    robotsByOrigin.set(origin, robots);
  }
  return robots;
}

/** Fetches one page and queues its links. */
export default async function crawlPage(job: CrawlJob, context: JobContext): Promise<PageRecord> {
  const { config: settings, queue: frontier } = open();
  const url = new URL(job.url);
  const record = { url: job.url, depth: job.depth, fetchedAt: Date.now() / 1000, pid: process.pid };
  const robots = await robotsFor(url.origin, settings, context.signal);
  if (!robots.allows(url.pathname + url.search))
    return { ...record, status: 0, title: '', bytes: 0, links: 0, skipped: 'robots' };

  const page = await fetchPage(job.url, {
    timeoutSeconds: settings.timeoutSeconds,
    userAgent: settings.userAgent,
    signal: context.signal,
  });
  if (page.status >= 500 || page.status === 429)
    throw new Error(`HTTP ${page.status} from ${job.url}`);
  const html = page.status === 200 && /html/i.test(page.contentType);
  const links = html ? extractLinks(page.body, job.url) : [];
  if (html && job.depth < settings.maxDepth) queueLinks(frontier, settings, links, job.depth + 1);
  return {
    ...record,
    status: page.status,
    title: html ? extractTitle(page.body) : '',
    bytes: page.bytes,
    links: links.length,
  };
}

function queueLinks(
  frontier: WorkQueue<CrawlJob>,
  settings: CrawlConfig,
  links: string[],
  depth: number,
): void {
  const follow = links.filter(
    (link) => settings.origin === null || new URL(link).origin === settings.origin,
  );
  if (follow.length === 0) return;
  const { pending, leased, done, failed } = frontier.stats();
  const room = settings.maxPages - (pending + leased + done + failed);
  if (room <= 0) return;
  frontier.putMany(
    follow.slice(0, room).map((link) => ({ url: link, depth })),
    { key: (job) => job.url },
  );
}
