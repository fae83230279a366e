/**
 * A rate limit shared by processes: a local API on 127.0.0.1 answers 429 when it gets more than 5
 * requests in any second. Two client processes each want 8 pages as fast as they can; with one
 * `throttle` bucket (same name, same cache directory) they stay under the limit together, no 429.
 * A token bucket of `count` per `seconds` allows up to `count + rate * T` calls in any T seconds
 * (the burst, then the refill), so for a hard "5 per second" we give it a burst of 1 and 3/s:
 * 4 a second, one below the limit, so that network and scheduling jitter (which can bring two
 * requests closer on arrival than they left) never pushes a second over it.
 * Run: npx tsx examples/throttle-api-client.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Cache, throttle } from '../src/index.js';

const [role, directory, base] = process.argv.slice(2);
const LIMIT = 5; // requests per second the API accepts

if (role === 'client') {
  const cache = new Cache(directory);
  // One call at once, then one every 1/3 s: at most 1 + 3 = 4 calls in any second, shared by all.
  const getPage = throttle(cache, { count: 1, seconds: 1 / 3, name: 'api.local' })(
    async (page: number) => {
      const response = await fetch(`${base}/pages/${page}`);
      return response.status;
    },
  );
  const statuses = await Promise.all(Array.from({ length: 8 }, (_, page) => getPage(page)));
  process.send!(statuses, () => {
    cache.close();
    process.disconnect();
  });
} else {
  const arrivals: number[] = [];
  const server = createServer((_request, response) => {
    const now = Date.now();
    arrivals.push(now);
    const lastSecond = arrivals.filter((t) => now - t < 1000).length;
    response.statusCode = lastSecond > LIMIT ? 429 : 200;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cache = new Cache();
  const self = fileURLToPath(import.meta.url);
  const clients = [0, 1].map(() => fork(self, ['client', cache.directory, url]));
  const statuses = (
    await Promise.all(
      clients.map((client) => new Promise<number[]>((resolve) => client.once('message', resolve))),
    )
  ).flat();
  const seconds = (Math.max(...arrivals) - Math.min(...arrivals)) / 1000;
  console.log(
    `2 processes sent ${arrivals.length} requests in ${seconds.toFixed(1)} s through one shared bucket (API limit: ${LIMIT} per second)`,
  );
  console.log(
    `answers: ${statuses.filter((s) => s === 200).length} x 200, ${statuses.filter((s) => s === 429).length} x 429`,
  );
  assert.equal(statuses.length, 16);
  assert.equal(
    statuses.filter((s) => s === 429).length,
    0,
    'the shared bucket kept under the limit',
  );
  server.close();
  cache.close();
  rmSync(cache.directory, { recursive: true, force: true });
}
