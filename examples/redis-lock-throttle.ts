/**
 * A RedisLock and a RedisThrottle shared by processes (as by machines): three workers each run a
 * "nightly report" guarded by one lock, so the reports never overlap (the expire frees the lock
 * if a worker dies holding it), and call a rate-limited API through one shared budget of 5 calls
 * per second — 15 calls take about 2 s whichever worker makes them. Both measure time by the
 * Redis server's clock. Needs a Redis server: REDIS_URL (default redis://127.0.0.1:6379/0).
 * Run: REDIS_URL=redis://127.0.0.1:6379/0 npx tsx examples/redis-lock-throttle.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { RedisIndex, RedisLock, RedisThrottle } from '../src/redis/index.js';

const [role, runId] = process.argv.slice(2);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

if (role === 'worker') {
  const lock = new RedisLock(`${url}#report-${runId}`, { expire: 30 });
  const api = new RedisThrottle(`${url}#api-${runId}`, { count: 5, seconds: 1 });
  const log = new RedisIndex<string>(`${url}#log-${runId}`);
  await lock.run(async () => {
    await log.set(`${process.pid} start`, new Date().toISOString());
    await new Promise((resolve) => setTimeout(resolve, 100)); // the report
    await log.set(`${process.pid} end`, new Date().toISOString());
  });
  const callApi = api.wrap(async (n: number) => n); // stands in for a fetch
  for (let i = 0; i < 5; i++) await callApi(i);
  await Promise.all([lock.close(), api.close(), log.close()]);
} else {
  const id = randomUUID();
  const self = fileURLToPath(import.meta.url);
  const started = performance.now();
  const workers = [0, 1, 2].map(() => fork(self, ['worker', id]));
  await Promise.all(workers.map((child) => new Promise((resolve) => child.on('exit', resolve))));
  const seconds = (performance.now() - started) / 1000;

  await using log = new RedisIndex<string>(`${url}#log-${id}`);
  const order: string[] = [];
  for await (const key of log.keys()) order.push(String(key).split(' ')[1]!);
  // Under the lock the reports ran one after the other: start, end, start, end, start, end.
  assert.deepEqual(order, ['start', 'end', 'start', 'end', 'start', 'end']);
  // 15 calls on a budget of 5 per second (the first 5 at once): at least 2 s in all.
  assert.ok(seconds >= 2, `15 throttled calls took ${seconds.toFixed(2)} s`);
  console.log(
    `reports never overlapped; 15 throttled calls from 3 processes took ${seconds.toFixed(1)} s`,
  );
  await log.clear();
}
