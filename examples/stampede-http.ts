/**
 * A cache stampede across processes, and how memoizeStampede stops it. A slow HTTP backend on
 * 127.0.0.1 counts its hits; 3 worker processes each fire 30 concurrent requests for the same
 * resource through a cache in one shared directory. With `cache.memoize` every process computes
 * the cold key (3 backend hits); with `memoizeStampede` one caller in one process computes and the
 * other 89 wait for its result (1 hit). Run: npx tsx examples/stampede-http.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Cache, memoizeStampede } from '../src/index.js';

const [role, directory, url, mode] = process.argv.slice(2);

if (role === 'worker') {
  const cache = new Cache(directory);
  const fetchReport = async function fetchReport(path: string): Promise<string> {
    const response = await fetch(new URL(path, url));
    return response.text();
  };
  const load =
    mode === 'stampede'
      ? memoizeStampede(cache, { expire: 60 })(fetchReport)
      : cache.memoize({ expire: 60 })(fetchReport);
  process.send!('ready');
  process.once('message', async () => {
    const bodies = await Promise.all(Array.from({ length: 30 }, () => load('/report')));
    process.send!(new Set(bodies).size, () => {
      cache.close();
      process.disconnect();
    });
  });
} else {
  let hits = 0;
  const server = createServer((_request, response) => {
    hits++;
    setTimeout(() => response.end(`report #${hits} built at ${new Date().toISOString()}`), 500); // slow to build
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const self = fileURLToPath(import.meta.url);

  for (const which of ['memoize', 'stampede']) {
    hits = 0;
    const cache = new Cache(); // a fresh, cold cache directory
    const workers = [0, 1, 2].map(() => fork(self, ['worker', cache.directory, base, which]));
    await Promise.all(
      workers.map((worker) => new Promise((resolve) => worker.once('message', resolve))),
    );
    const distinct = workers.map(
      (worker) => new Promise<number>((resolve) => worker.once('message', resolve)),
    );
    for (const worker of workers) worker.send('go'); // all start together: a real stampede
    const bodiesPerWorker = await Promise.all(distinct);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise((resolve) =>
            worker.exitCode === null ? worker.once('exit', resolve) : resolve(null),
          ),
      ),
    );
    const label = which === 'memoize' ? 'cache.memoize   ' : 'memoizeStampede ';
    console.log(
      `${label}: 3 processes x 30 concurrent requests -> backend hit ${hits} time(s); distinct bodies per process: ${bodiesPerWorker.join(', ')}`,
    );
    assert.ok(hits >= 1);
    if (which === 'stampede') {
      assert.equal(hits, 1); // one computation for 90 callers in 3 processes
      assert.deepEqual(bodiesPerWorker, [1, 1, 1]);
    }
    cache.close();
    rmSync(cache.directory, { recursive: true, force: true });
  }
  server.close();
}
