/**
 * node-diskcache/crawler: the crawler's public API, on its own subpath so that importing the
 * package root never loads undici. Everything public of src/crawler is exported here and nowhere else.
 */
export { type CrawlOptions, type CrawlSummary, crawl } from './crawl.js';
export type { CrawlJob, PageRecord } from './crawl-handler.js';
export { type DemoSite, type DemoSiteOptions, startDemoSite } from './demo-site.js';
