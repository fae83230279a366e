/**
 * The Redis benchmark's handler for node-diskcache's runner: a no-op job that remembers the
 * payload's jobId, and on exit writes them to $BENCH_COUNT_DIR/<pid>.json, so that the benchmark
 * counts lost and duplicated jobs (a job run twice shows twice).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ids = [];
process.on('exit', () => {
  if (process.env.BENCH_COUNT_DIR)
    fs.writeFileSync(
      path.join(process.env.BENCH_COUNT_DIR, `${process.pid}.json`),
      JSON.stringify(ids),
    );
});

export default function count(payload) {
  ids.push(payload.jobId);
}
