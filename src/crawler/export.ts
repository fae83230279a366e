/**
 * export: writes a crawl's records (a crawl directory's, or a Redis crawl's) as JSON Lines or CSV,
 * one line per URL, for tools that do not read SQLite or Redis. It reads the records; it never
 * changes the crawl.
 */
import type { AsyncResults } from '../collections/async-work-queue.js';
import { openQueue } from '../collections/open-queue.js';
import type { PageRecord } from './crawl-handler.js';

/** The formats of `exportRecords`. */
export type ExportFormat = 'jsonl' | 'csv';

/** The columns every CSV export starts with (handler fields follow, in first-seen order). */
const COLUMNS = [
  'url',
  'finalUrl',
  'status',
  'contentType',
  'title',
  'bytes',
  'depth',
  'fetchedAt',
  'elapsed',
  'error',
  'skipped',
  'redirects',
  'outlinks',
] as const;

function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text =
    typeof value === 'string'
      ? value
      : Array.isArray(value) && value.every((item) => typeof item === 'string')
        ? value.join(' ')
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function* recordsOf(results: AsyncResults): AsyncGenerator<PageRecord> {
  for await (const [, record] of results.entries()) yield record as PageRecord;
}

/**
 * Writes every record of the crawl on `queue` (its directory, or its `redis://…#name` locator) to
 * `write`, in the order they were recorded. CSV: arrays of URLs are space-separated, redirect
 * chains and other objects are JSON.
 * @returns how many records were written.
 * @throws RangeError for an unknown format; TypeError for a bad locator; QueueNotFoundError when
 *   it names no queue (nothing is created).
 */
export async function exportRecords(
  queue: string,
  format: ExportFormat,
  write: (chunk: string) => void,
): Promise<number> {
  if (format !== 'jsonl' && format !== 'csv')
    throw new RangeError(`format must be 'jsonl' or 'csv', got ${String(format)}`);
  // Reading creates nothing: a locator that names no queue is a QueueNotFoundError.
  const crawl = await openQueue(queue, { create: false });
  try {
    let count = 0;
    if (format === 'jsonl') {
      for await (const record of recordsOf(crawl.results)) {
        write(`${JSON.stringify(record)}\n`);
        count++;
      }
      return count;
    }
    // Handler fields are known only after a pass over the records.
    const extra = new Set<string>();
    for await (const record of recordsOf(crawl.results))
      for (const key of Object.keys(record))
        if (!(COLUMNS as readonly string[]).includes(key)) extra.add(key);
    const columns = [...COLUMNS, ...extra];
    write(`${columns.join(',')}\n`);
    for await (const record of recordsOf(crawl.results)) {
      write(`${columns.map((column) => csvField(record[column])).join(',')}\n`);
      count++;
    }
    return count;
  } finally {
    await crawl.close();
  }
}
