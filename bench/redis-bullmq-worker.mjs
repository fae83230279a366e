/**
 * One BullMQ worker process of the Redis benchmark: a Worker with concurrency argv[4] on the
 * queue argv[3] of the redis-server at 127.0.0.1:argv[2], running a no-op job that remembers the
 * payload's jobId. It exits once nothing is waiting, active, delayed or prioritized (polled every
 * 25 ms, as the library's runner polls for `once` every 50 ms), writing the ids it ran to
 * argv[5]/<pid>.json so that the benchmark counts lost and duplicated jobs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Queue, Worker } from 'bullmq';

const [port, name, concurrency, countDir] = process.argv.slice(2);
const connection = { host: '127.0.0.1', port: Number(port) };
const ids = [];
const worker = new Worker(
  name,
  async (job) => {
    ids.push(job.data.jobId);
  },
  { connection, concurrency: Number(concurrency) },
);
const queue = new Queue(name, { connection });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
await sleep(10);
for (;;) {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  if (Object.values(counts).every((count) => count === 0)) break;
  await sleep(25);
}
await worker.close();
await queue.close();
fs.writeFileSync(path.join(countDir, `${process.pid}.json`), JSON.stringify(ids));
process.exit(0);
