/**
 * cache.memoize: a function's results persist in the cache, so a second call (in this process,
 * another process, or after a restart) returns at once. Recursion goes through the memoized
 * wrapper, so fib(80) computes each n once. Run: npx tsx examples/memoize.ts
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Cache } from '../src/index.js';

const cache = new Cache();

// A slow function: the first call waits, the second reads the cache.
let computed = 0;
const slowAdd = cache.memoize({ expire: 60 })(async function slowAdd(x: number, y: number) {
  computed++;
  await new Promise((resolve) => setTimeout(resolve, 300)); // an expensive computation
  return x + y;
});
let started = performance.now();
assert.equal(await slowAdd(1, 2), 3);
console.log(`slowAdd(1, 2) first call: ${(performance.now() - started).toFixed(0)} ms`);
started = performance.now();
assert.equal(await slowAdd(1, 2), 3);
console.log(
  `slowAdd(1, 2) second call: ${(performance.now() - started).toFixed(1)} ms (from the cache)`,
);
assert.equal(computed, 1);
console.log(`the key it is stored under: ${JSON.stringify(slowAdd.cacheKey(1, 2))}`);

// Recursion: the body calls `fib`, the memoized wrapper, not itself, so every n is computed once.
let bodies = 0;
function fibonacci(n: number): bigint {
  bodies++;
  return n < 2 ? BigInt(n) : fib(n - 1) + fib(n - 2);
}
const fib = cache.memoize()(fibonacci);
const result = fib(80);
console.log(`fib(80) = ${result}, computed with ${bodies} calls of the body`);
assert.equal(result, 23416728348467685n); // a bigint stays a bigint in the cache
assert.equal(bodies, 81); // n = 0..80, once each

// Another Cache on the same directory (another process would do the same) finds the results.
const other = new Cache(cache.directory);
const fib2 = other.memoize()(function fibonacci(_n: number): bigint {
  throw new Error('not called: the result is in the cache');
});
assert.equal(fib2(80), result);
console.log('a second Cache on the same directory reads fib(80) without computing it');
other.close();
cache.close();
rmSync(cache.directory, { recursive: true, force: true });
