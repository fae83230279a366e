/**
 * One runner, any queue: the same code queues and runs jobs on a directory (one machine) or on
 * Redis (any number of machines), chosen by a locator string.
 * Run: npx tsx examples/queue-anywhere.ts [locator]
 *   npx tsx examples/queue-anywhere.ts                                  # a temporary directory
 *   npx tsx examples/queue-anywhere.ts redis://127.0.0.1:6379/0#words   # a Redis queue
 *
 * On Redis, start the same command on several machines: each queues the words (keys make that
 * harmless: a word is queued once), all share the work, and each stops once the whole queue is
 * drained (`once` counts the jobs the other machines are running too).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openQueue, runWorkers } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const temporary = process.argv[2] === undefined;
const locator = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'queue-anywhere-'));

const queue = await openQueue<string>(locator);
const words = 'the quick brown fox jumps over the lazy dog'.split(' ');
const ids = await queue.putMany(words, { key: (word) => word });
console.log(`queued ${ids.filter((id) => id !== undefined).length} new jobs`);

const summary = await runWorkers({
  queue, // or the locator string itself
  handler: path.join(here, 'queue-anywhere-handler.ts'),
  processes: 2,
  concurrency: 4,
  once: true,
});
console.log(`${summary.reason}: this runner did ${summary.counts.done} jobs`);
console.log('queue:', summary.stats);
for await (const [word, length] of queue.results.entries()) console.log(`${word} → ${length}`);
await queue.close();
if (temporary) fs.rmSync(locator, { recursive: true, force: true });
