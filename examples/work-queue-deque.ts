/**
 * A work queue shared by processes, on a Deque: the parent queues 200 jobs, three child processes
 * take them with popLeft (each job goes to exactly one of them) and append their results to a
 * second Deque; a third Deque with maxlen keeps only the 5 latest log lines, whoever writes them.
 * Run: npx tsx examples/work-queue-deque.ts
 *
 * A job popped by a worker that then crashes is lost (as with diskcache's Deque): when every job
 * must be done, use WorkQueue, which leases jobs and hands them out again.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deque } from '../src/index.js';

interface Job {
  id: number;
  n: number;
}
interface Result {
  id: number;
  sumOfSquares: number;
  worker: number;
}

const [role, root] = process.argv.slice(2);

if (role === 'worker') {
  const jobs = new Deque<Job>(path.join(root!, 'jobs'));
  const results = new Deque<Result>(path.join(root!, 'results'));
  const log = new Deque<string>(path.join(root!, 'log'), { maxlen: 5 });
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let done = 0;
  for (let job = jobs.popLeft(); job !== undefined; job = jobs.popLeft()) {
    let sumOfSquares = 0;
    for (let k = 1; k <= job.n; k++) sumOfSquares += k * k;
    Atomics.wait(sleeper, 0, 0, 5); // stands for 5 ms of I/O per job
    results.append({ id: job.id, sumOfSquares, worker: process.pid });
    log.append(`worker ${process.pid} finished job ${job.id}`);
    done++;
  }
  console.log(`worker ${process.pid}: ${done} jobs`);
  for (const deque of [jobs, results, log]) deque.close();
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'work-queue-deque-'));
  const jobs = new Deque<Job>(path.join(dir, 'jobs'));
  jobs.extend(Array.from({ length: 200 }, (_, id) => ({ id, n: 10_000 + id }))); // one transaction
  console.log(`${jobs.length} jobs queued in ${jobs.directory}; starting 3 workers`);

  const self = fileURLToPath(import.meta.url);
  const workers = [0, 1, 2].map(() => fork(self, ['worker', dir]));
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.on('exit', resolve))));

  const results = new Deque<Result>(path.join(dir, 'results'));
  const ids = [...results].map((result) => result.id);
  console.log(
    `results: ${results.length}, distinct jobs: ${new Set(ids).size}, jobs left: ${jobs.length}`,
  );
  console.log(
    `job 199: sum of squares 1..10199 = ${[...results].find((result) => result.id === 199)?.sumOfSquares}`,
  );
  assert.equal(results.length, 200);
  assert.equal(new Set(ids).size, 200); // every job done exactly once
  assert.equal(jobs.length, 0);
  const log = new Deque<string>(path.join(dir, 'log'));
  console.log(`the log kept the last ${log.length} lines (maxlen 5):`);
  for (const line of log) console.log(`  ${line}`);
  assert.equal(log.length, 5);
  for (const deque of [jobs, results, log]) deque.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
