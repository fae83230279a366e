/**
 * Engine demo: three child processes share one cache directory, count with incr, and queue work
 * with push/pull; the parent prints and checks the result. Run: npx tsx examples/engine-demo.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Cache } from '../src/index.js';

const [role, directory] = process.argv.slice(2);

if (role === 'child') {
  const cache = new Cache(directory);
  for (let i = 0; i < 1000; i++) cache.incr('hits', 1, { retry: true });
  let pulled = 0;
  while (cache.pull({ prefix: 'jobs', retry: true })) pulled++;
  cache.set(`pulled-by-${process.pid}`, pulled, { retry: true });
  cache.close();
} else {
  const cache = new Cache();
  for (let i = 0; i < 300; i++) cache.push({ job: i }, { prefix: 'jobs' });
  console.log(`cache at ${cache.directory}: 300 jobs queued, starting 3 processes`);
  const self = fileURLToPath(import.meta.url);
  const children = [0, 1, 2].map(() => fork(self, ['child', cache.directory]));
  await Promise.all(children.map((child) => new Promise((resolve) => child.on('exit', resolve))));
  const pulled = [...cache.keys()]
    .filter((key) => String(key).startsWith('pulled-by-'))
    .map((key) => cache.get<number>(key) ?? 0);
  console.log(`hits counted by 3 processes: ${cache.get('hits')} (expected 3000)`);
  console.log(
    `jobs pulled per process: ${pulled.join(', ')} = ${pulled.reduce((a, b) => a + b, 0)} (expected 300)`,
  );
  console.log(`check(): ${cache.check().length} warnings`);
  assert.equal(cache.get('hits'), 3000);
  assert.equal(
    pulled.reduce((a, b) => a + b, 0),
    300,
  );
  assert.equal(cache.check().length, 0);
  cache.close();
  rmSync(cache.directory, { recursive: true, force: true });
}
