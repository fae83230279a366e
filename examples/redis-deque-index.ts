/**
 * A RedisDeque as a work list shared by machines, and a RedisIndex as their result store: a
 * producer appends URLs, two consumer processes (as on two machines) pop them with `popLeft({wait})`
 * — each URL goes to exactly one of them — and record a result per URL in the index, in the order
 * they finish. Needs a Redis server: REDIS_URL (default redis://127.0.0.1:6379/0).
 * Run: REDIS_URL=redis://127.0.0.1:6379/0 npx tsx examples/redis-deque-index.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { RedisDeque, RedisIndex } from '../src/redis/index.js';

const [role, runId] = process.argv.slice(2);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

if (role === 'consumer') {
  // One connection each; the `#name` picks the deque and the index.
  await using urls = new RedisDeque<string>(`${url}#urls-${runId}`);
  await using results = new RedisIndex<{ length: number; by: number }>(`${url}#results-${runId}`);
  for (;;) {
    const next = await urls.popLeft({ wait: 10 }); // woken by the producer's append
    if (next === undefined || next === 'done') break;
    await results.set(next, { length: next.length, by: process.pid });
  }
} else {
  const id = randomUUID();
  const self = fileURLToPath(import.meta.url);
  const consumers = [0, 1].map(() => fork(self, ['consumer', id]));
  await using urls = new RedisDeque<string>(`${url}#urls-${id}`);
  await using results = new RedisIndex<{ length: number; by: number }>(`${url}#results-${id}`);
  const pages = Array.from({ length: 40 }, (_, i) => `https://example.com/page/${i}`);
  await urls.extend(pages);
  await urls.extend(['done', 'done']); // one stop marker per consumer
  await Promise.all(consumers.map((child) => new Promise((resolve) => child.on('exit', resolve))));

  assert.equal(await results.len(), pages.length); // every URL once, none twice
  const byConsumer = new Map<number, number>();
  for await (const [, result] of results.items())
    byConsumer.set(result.by, (byConsumer.get(result.by) ?? 0) + 1);
  console.log(
    `${pages.length} URLs, results per consumer: ${[...byConsumer.values()].join(' + ')}`,
  );
  assert.equal(await results.add(pages[0]!, { length: 0, by: 0 }), false); // already there
  await results.clear();
  await urls.clear();
}
