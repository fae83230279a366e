/**
 * export: writes a crawl directory's records as JSON Lines or CSV, one line per URL, for tools
 * that do not read SQLite. It reads the records; it never changes the crawl.
 */
import { WorkQueue } from '../collections/work-queue.js';
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

/**
 * Writes every record of the crawl in `directory` to `write`, in the order they were recorded.
 * CSV: arrays of URLs are space-separated, redirect chains and other objects are JSON.
 * @returns how many records were written.
 */
export function exportRecords(
  directory: string,
  format: ExportFormat,
  write: (chunk: string) => void,
): number {
  if (format !== 'jsonl' && format !== 'csv')
    throw new RangeError(`format must be 'jsonl' or 'csv', got ${String(format)}`);
  const queue = new WorkQueue(directory);
  try {
    const records = queue.results.values() as Iterable<PageRecord>;
    let count = 0;
    if (format === 'jsonl') {
      for (const record of records) {
        write(`${JSON.stringify(record)}\n`);
        count++;
      }
      return count;
    }
    // Handler fields are known only after a pass over the records.
    const extra = new Set<string>();
    for (const record of queue.results.values() as Iterable<PageRecord>)
      for (const key of Object.keys(record))
        if (!(COLUMNS as readonly string[]).includes(key)) extra.add(key);
    const columns = [...COLUMNS, ...extra];
    write(`${columns.join(',')}\n`);
    for (const record of records) {
      write(`${columns.map((column) => csvField(record[column])).join(',')}\n`);
      count++;
    }
    return count;
  } finally {
    queue.close();
  }
}
