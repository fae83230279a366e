/**
 * node-diskcache/crawler: the crawler's public API, on its own subpath so that importing the
 * package root never loads the parser. Everything public of src/crawler is exported here and nowhere else.
 */
export {
  type CrawlFailure,
  type CrawlOptions,
  type CrawlSummary,
  crawl,
} from './crawl.js';
export type {
  CrawledPage,
  CrawlJob,
  DeferredLink,
  PageHandler,
  PageRecord,
  RedirectHop,
  SkipReason,
} from './crawl-handler.js';
export { type DemoSite, type DemoSiteOptions, startDemoSite } from './demo-site.js';
export { type ExportFormat, exportRecords } from './export.js';
