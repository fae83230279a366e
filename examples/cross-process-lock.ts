/**
 * A Lock shared by processes: 3 processes append to one "account balance" with a read, a slow
 * computation and a write — a lost-update race without the lock. Under the lock every deposit
 * counts. The lock has an `expire`, so a process that dies holding it cannot block the others for
 * longer than that. Run: npx tsx examples/cross-process-lock.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Cache, Lock } from '../src/index.js';

const [role, directory] = process.argv.slice(2);
const DEPOSITS = 20;

if (role === 'worker') {
  const cache = new Cache(directory);
  const lock = new Lock(cache, 'balance-lock', { expire: 10 });
  for (let i = 0; i < DEPOSITS; i++) {
    // `await using` releases the lock at the end of the block, also on an exception.
    await using _held = await lock.acquire({ timeout: 30 });
    const balance = cache.get<number>('balance') ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 2)); // the other processes run meanwhile
    cache.set('balance', balance + 1);
  }
  cache.close();
} else {
  const cache = new Cache();
  const self = fileURLToPath(import.meta.url);
  const workers = [0, 1, 2].map(() => fork(self, ['worker', cache.directory]));
  await Promise.all(
    workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve))),
  );
  console.log(
    `balance after 3 processes x ${DEPOSITS} deposits under a Lock: ${cache.get('balance')} (expected ${3 * DEPOSITS})`,
  );
  console.log(`lock still held by anyone: ${new Lock(cache, 'balance-lock').locked()}`);
  assert.equal(cache.get('balance'), 3 * DEPOSITS); // no lost update
  assert.equal(new Lock(cache, 'balance-lock').locked(), false);
  cache.close();
  rmSync(cache.directory, { recursive: true, force: true });
}
