/**
 * FanoutCache: keys sharded over several SQLite databases, so many writer processes rarely wait
 * for each other. 3 processes write 200 keys each and share a counter; the parent then sees all
 * 600 keys and the exact count. A write that cannot get its shard's lock within `timeout`
 * returns false instead of stalling (a cache may lose a write); `retry: true` makes one wait.
 * Run: npx tsx examples/fanout-cache.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FanoutCache } from '../src/index.js';

const [role, directory, writer] = process.argv.slice(2);
const SHARDS = 4;
const KEYS_PER_WRITER = 200;

if (role === 'writer') {
  const cache = new FanoutCache(directory, { shards: SHARDS });
  let dropped = 0;
  for (let i = 0; i < KEYS_PER_WRITER; i++) {
    // A page cache may drop a write under contention; the counter must not lose any.
    if (!cache.set(`page:${writer}:${i}`, `<html>${i}</html>`, { expire: 300 })) {
      cache.set(`page:${writer}:${i}`, `<html>${i}</html>`, { expire: 300, retry: true });
      dropped++;
    }
    cache.incr('pages-written', 1, { retry: true });
  }
  console.log(
    `writer ${writer}: ${KEYS_PER_WRITER} keys, ${dropped} first tries hit a locked shard`,
  );
  cache.close();
} else {
  const cache = new FanoutCache(undefined, { shards: SHARDS }); // a new temporary directory
  const self = fileURLToPath(import.meta.url);
  const writers = ['a', 'b', 'c'].map((name) => fork(self, ['writer', cache.directory, name]));
  const codes = await Promise.all(
    writers.map((child) => new Promise((resolve) => child.once('exit', resolve))),
  );
  assert.deepEqual(codes, [0, 0, 0]);

  console.log(
    `${cache.shardCount} shards, ${cache.size} entries, counter ${cache.get('pages-written')}`,
  );
  assert.equal(cache.size, 3 * KEYS_PER_WRITER + 1); // the pages and the counter
  assert.equal(cache.get('pages-written'), 3 * KEYS_PER_WRITER);
  assert.equal(cache.get('page:b:7'), '<html>7</html>');

  // Sub-collections live in their own databases inside the directory.
  const jobs = cache.deque<string>('jobs');
  jobs.extend(['resize', 'upload']);
  const seen = cache.index<string, number>('seen');
  seen.set('page:a:1', Date.now());
  console.log(`deque('jobs') → ${JSON.stringify([...jobs])}, index('seen').size = ${seen.size}`);
  assert.equal(jobs.popLeft(), 'resize');
  assert.equal(seen.size, 1);

  cache.close();
  rmSync(cache.directory, { recursive: true, force: true });
}
