/**
 * crawl-config: the settings every crawl worker needs, handed from the crawl's parent process to
 * its workers through one environment variable (the runner forks children with the parent's
 * environment). It holds no state of its own.
 */

/** What a crawl worker needs to know. */
export interface CrawlConfig {
  /** The work queue directory (the crawl directory). */
  readonly queueDirectory: string;
  /** Only URLs with this origin are followed (null: any http(s) URL). */
  readonly origin: string | null;
  /** Links are followed this many hops from the start page at most. */
  readonly maxDepth: number;
  /** The crawl stops adding pages once this many are known. */
  readonly maxPages: number;
  /** Seconds before a request is abandoned. */
  readonly timeoutSeconds: number;
  readonly userAgent: string;
}

export const CRAWL_CONFIG_VARIABLE = 'NODE_DISKCACHE_CRAWL';

/** The config the parent put in the environment. */
export function readCrawlConfig(environment: NodeJS.ProcessEnv = process.env): CrawlConfig {
  const text = environment[CRAWL_CONFIG_VARIABLE];
  if (!text)
    throw new Error(
      `${CRAWL_CONFIG_VARIABLE} is not set: the crawl handler runs inside crawl()'s worker processes`,
    );
  return JSON.parse(text) as CrawlConfig;
}
