/**
 * A resumable batch job: hash every file under a folder, in worker processes, into an Index.
 * Run: npx tsx examples/resumable-hash.ts [folder] [--queue DIR] [--processes N]
 *
 * Every file becomes one job, keyed by its path (so running again queues only new files). The
 * runner forks the workers; each result lands in the queue's results Index (path → sha256). Press
 * Ctrl-C: running jobs finish, the rest stay queued. Run the same command again: it resumes where
 * it stopped — also after a crash or `kill -9`, because a job is done only once it is acked.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProgressReporter, runWorkers, WorkQueue } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { queue: { type: 'string' }, processes: { type: 'string', default: '2' } },
});
const folder = path.resolve(positionals[0] ?? path.join(here, '..', 'src'));
// One queue per folder by default, in the temp directory: the same command resumes the same queue.
const id = crypto.createHash('sha256').update(folder).digest('hex').slice(0, 12);
const queueDirectory = path.resolve(
  values.queue ?? path.join(os.tmpdir(), `diskcache-resumable-hash-${id}`),
);

function* files(directory: string): Generator<string> {
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === '.git') continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) yield* files(full);
    else if (entry.isFile()) yield full;
  }
}

const queue = new WorkQueue<string>(queueDirectory, { leaseSeconds: 30 });
const found = [...files(folder)];
const queued = queue
  .putMany(found, { key: (file) => file })
  .filter((jobId) => jobId !== undefined).length;
console.log(`${folder}: ${found.length} files, ${queued} newly queued; queue ${queueDirectory}`);

// Ctrl-C (or SIGTERM) stops gracefully: running jobs finish, the others stay queued.
const stop = new AbortController();
process.on('SIGINT', () => (stop.signal.aborted ? process.exit(130) : stop.abort()));
process.on('SIGTERM', () => (stop.signal.aborted ? process.exit(130) : stop.abort()));
const reporter = createProgressReporter(process.stderr, { intervalSeconds: 2 });
let last: Parameters<typeof reporter.update>[0] | undefined;
const summary = await runWorkers({
  queue,
  handler: path.join(here, 'resumable-hash-handler.ts'),
  processes: Number(values.processes),
  concurrency: 4,
  once: true,
  signal: stop.signal,
  onProgress: (progress) => {
    last = progress;
    reporter.update(progress);
  },
});
if (last) reporter.finish(last);

const results = queue.results;
console.log(
  `${summary.reason === 'drained' ? 'done' : 'stopped'}: ${results.size} files hashed, ${summary.stats.pending} still queued, ${summary.stats.failed} failed`,
);
let shown = 0;
for (const [file, result] of results.entries()) {
  if (shown++ === 3) break;
  console.log(
    `  ${(result as { sha256: string }).sha256.slice(0, 16)}…  ${path.relative(folder, String(file))}`,
  );
}
if (summary.reason === 'stopped') console.log('run the same command again to resume');
for (const failed of queue.failed({ limit: 5 }))
  console.log(`  failed: ${failed.key}: ${failed.error.split('\n')[0]}`);
queue.close();
