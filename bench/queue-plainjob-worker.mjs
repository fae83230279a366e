/**
 * One plainjob worker process of the work queue benchmark, as plainjob's own
 * bench/worker-better.ts does it: a no-op worker on the given better-sqlite3 file, running until
 * no job is pending or processing (plainjob's `processAll`, which its published package does not
 * export, re-done here with the same 50 ms polling). Plain JavaScript, like the library's workers
 * in this benchmark, so that neither side pays a TypeScript loader at start-up.
 */
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker, JobStatus } from 'plainjob';

const logger = { error: console.error, warn: console.warn, info: () => {}, debug: () => {} };
const queue = defineQueue({ connection: better(new Database(process.argv[2])), logger });
const worker = defineWorker('bench', async () => Promise.resolve(), { queue, logger });
void worker.start();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
await sleep(10);
while (
  queue.countJobs({ status: JobStatus.Pending }) +
    queue.countJobs({ status: JobStatus.Processing }) >
  0
)
  await sleep(50);
await worker.stop();
queue.close();
process.exit(0);
