/**
 * A Node service consuming what a Python pipeline produced, through one directory: Python fills a
 * Deque of job dicts and an Index (examples/python-producer.py); Node pops the jobs — the default
 * Disk reads Python's pickled plain data with a reader that never runs code — and writes results
 * into the Index with PickleDisk, so Python reads them back as dicts with tuple keys.
 * Needs /usr/bin/python3 with python-diskcache; without it, the example says so and exits 0.
 * Run: npx tsx examples/python-consumer.ts
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cache, Deque, Index, PickleDisk } from '../src/index.js';

const PYTHON = '/usr/bin/python3';
const producer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python-producer.py');

if (spawnSync(PYTHON, ['-c', 'import diskcache'], { stdio: 'ignore' }).status !== 0) {
  console.log(`skipped: ${PYTHON} cannot import diskcache (apt-get install python3-diskcache)`);
  process.exit(0);
}

/** Runs the Python producer; its output goes to ours. */
function python(...args: string[]): void {
  const result = spawnSync(PYTHON, [producer, ...args], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`python-producer.py exited with ${result.status}`);
}

interface Job {
  id: number;
  url: string;
  retries: number;
  weights: number[];
  deadline: null;
  shape: [number, number]; // a Python tuple reads as an array
}

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'python-consumer-'));
try {
  python(directory);

  // The default Disk reads Python's pickled dicts, lists, tuples, sets and None.
  const jobs = new Deque<Job>(path.join(directory, 'jobs'));
  // PickleDisk writes what Python reads back: dicts, lists, None, and arrays as tuple keys.
  const catalogCache = new Cache(path.join(directory, 'catalog'), {
    disk: PickleDisk,
    evictionPolicy: 'none',
  });
  const catalog = Index.fromCache(catalogCache);
  console.log('node: settings from Python:', catalog.get('settings'));
  console.log('node: owner from Python:', catalog.get(['owner', 1]));

  for (let job = jobs.popLeft(); job !== undefined; job = jobs.popLeft()) {
    const score = job.weights.reduce((sum, weight) => sum + weight, 0) * job.shape[1];
    catalog.set(['result', job.id], { url: job.url, score, error: null, tags: ['node'] });
  }
  console.log(`node: processed the jobs, the catalog now holds ${catalog.size} entries`);
  jobs.close();
  catalogCache.close();

  python(directory, '--read');
} finally {
  fs.rmSync(directory, { recursive: true, force: true });
}
