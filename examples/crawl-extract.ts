/**
 * Crawl a site and extract data from every page: a page handler module returns extra fields for
 * each page's record; the records land in the crawl directory and export as JSON Lines or CSV.
 * Run: npx tsx examples/crawl-extract.ts [url] [--dir DIR]
 * (no URL: the built-in demo site on 127.0.0.1). The same with the CLI:
 *   diskcache crawl URL -d DIR --handler examples/crawl-extract-handler.ts
 *   diskcache crawl export DIR --format csv
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crawl, exportRecords, type PageRecord, startDemoSite } from '../src/crawler/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { dir: { type: 'string' } },
});
const directory = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'crawl-extract-'));
const site = positionals[0] === undefined ? await startDemoSite({ pages: 60 }) : undefined;
try {
  const summary = await crawl({
    startUrl: positionals[0] ?? site!.url,
    directory,
    processes: 2,
    concurrency: 8,
    handler: path.join(here, 'crawl-extract-handler.ts'),
  });
  console.log(`crawled ${summary.pages} URLs in ${summary.elapsedSeconds.toFixed(1)} s`);

  // The records, as a user would read them: here the five wordiest pages.
  const records: PageRecord[] = [];
  await exportRecords(directory, 'jsonl', (line) => records.push(JSON.parse(line) as PageRecord));
  const wordiest = records
    .filter((record) => typeof record.words === 'number')
    .sort((a, b) => (b.words as number) - (a.words as number))
    .slice(0, 5);
  for (const record of wordiest)
    console.log(`${String(record.words).padStart(5)} words  ${record.h1}  ${record.url}`);
  if (wordiest.length === 0) throw new Error('the handler extracted nothing');
} finally {
  await site?.close();
  if (values.dir === undefined) fs.rmSync(directory, { recursive: true, force: true });
}
