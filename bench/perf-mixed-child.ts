/**
 * One process of the perf benchmark's mixed workload (forked by perf.bench.ts with tsx): opens the
 * Cache in argv[2] (argv[3] 'off': `readCache: false`), says 'ready'; on each 'go' it runs argv[4]
 * operations on the 1,000 keys `key-0000000`…: 90% get, 10% set of a 1 KB value (a seeded
 * pseudo-random sequence: the same in every process and in the Python twin), then answers with
 * the milliseconds it took. 'exit' closes the cache and ends it.
 */
import { Cache } from '../src/index.js';
import { keyName, valueFor } from './cache-workload.js';

const [directory, readCache, opsArg, seedArg] = process.argv.slice(2);
const cache = new Cache(directory, readCache === 'off' ? { readCache: false } : {});
const keys = Array.from({ length: 1000 }, (_, i) => keyName(i));
const value = valueFor('buffer', 1);
const ops = Number(opsArg);

process.on('message', (message) => {
  if (message !== 'go') {
    cache.close();
    process.disconnect();
    return;
  }
  // A 32-bit LCG (Numerical Recipes), mirrored in the Python twin.
  let state = Number(seedArg) >>> 0;
  const begin = performance.now();
  for (let i = 0; i < ops; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const key = keys[state % 1000]!;
    if (state % 10 === 0) cache.set(key, value);
    else cache.get(key);
  }
  process.send!({ ms: performance.now() - begin });
});

process.send!('ready');
