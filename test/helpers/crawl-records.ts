/** The pages recorded in a crawl directory, by URL (shared by the crawler tests). */
import { WorkQueue } from '../../src/collections/work-queue.js';
import type { PageRecord } from '../../src/crawler/crawl-handler.js';

export function recorded(directory: string): Map<string, PageRecord> {
  const queue = new WorkQueue(directory);
  const pages = new Map(
    [...queue.results.entries()].map(([url, record]) => [String(url), record as PageRecord]),
  );
  queue.close();
  return pages;
}
