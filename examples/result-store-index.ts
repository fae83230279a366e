/**
 * A result store written by several processes, on an Index (a persistent Map): three child
 * processes go through the same 60 words; `setDefault` lets exactly one of them claim each word,
 * the claimer stores the result, and a counter is updated inside `transact` so no increment is
 * lost. The parent reads the results in insertion order, like any Map.
 * Run: npx tsx examples/result-store-index.ts
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Index } from '../src/index.js';

interface WordResult {
  letters: number;
  vowels: number;
  by: number;
}

const WORDS = Array.from(
  { length: 60 },
  (_, n) => `${['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'][n % 6]}-${n}`,
);
const [role, directory] = process.argv.slice(2);

if (role === 'worker') {
  const store = new Index<string, unknown>(directory);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let mine = 0;
  for (const word of WORDS) {
    // Atomic across processes: the first setDefault wins, every later one returns the winner.
    if (store.setDefault(`claim:${word}`, process.pid) !== process.pid) continue;
    Atomics.wait(sleeper, 0, 0, 5); // stands for 5 ms of real work
    const result: WordResult = {
      letters: word.length,
      vowels: word.match(/[aeiou]/g)?.length ?? 0,
      by: process.pid,
    };
    store.set(`result:${word}`, result);
    // A read-modify-write is atomic only inside transact.
    store.transact(() =>
      store.set('stats:done', ((store.get('stats:done') as number | undefined) ?? 0) + 1),
    );
    mine++;
  }
  console.log(`worker ${process.pid}: computed ${mine} words`);
  store.close();
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'result-store-index-'));
  const self = fileURLToPath(import.meta.url);
  const workers = [0, 1, 2].map(() => fork(self, ['worker', dir]));
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.on('exit', resolve))));

  const store = new Index<string, unknown>(dir);
  const results = [...store].filter(([key]) => key.startsWith('result:')) as [string, WordResult][];
  console.log(
    `store ${dir}: ${store.size} entries, ${results.length} results, counter ${store.get('stats:done')} (expected 60)`,
  );
  console.log('first results, in the order they were stored:');
  for (const [key, result] of results.slice(0, 4))
    console.log(
      `  ${key.slice(7)}: ${result.letters} letters, ${result.vowels} vowels (process ${result.by})`,
    );
  assert.equal(results.length, WORDS.length); // each word computed once, by exactly one process
  assert.equal(store.get('stats:done'), WORDS.length); // no lost increment
  const perProcess = new Map<number, number>();
  for (const [, result] of results) perProcess.set(result.by, (perProcess.get(result.by) ?? 0) + 1);
  console.log(`results per process: ${[...perProcess.values()].join(' + ')} = ${results.length}`);
  console.log(
    `oldest entry (popItem({last: false})): ${JSON.stringify(store.popItem({ last: false }))}`,
  );
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
