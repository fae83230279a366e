/**
 * memoizeStampede in one process: a slow loader called by 20 concurrent callers runs once, and a
 * hot key is refreshed in the background shortly before it expires while callers keep getting the
 * stored value at once. Run: npx tsx examples/memoize-stampede.ts
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Cache, memoizeStampede } from '../src/index.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cache = new Cache(); // a new temporary directory

let loads = 0;
const getPrice = memoizeStampede(cache, { expire: 1 })(async function getPrice(symbol: string) {
  loads++;
  await pause(150); // a slow backend
  return { symbol, price: 100 + loads, loadedAt: new Date().toISOString() };
});

// Cold key: 20 callers at once, one computation.
const prices = await Promise.all(Array.from({ length: 20 }, () => getPrice('ACME')));
console.log(
  `20 concurrent callers, loader ran ${loads} time(s); everyone got price ${prices[0]!.price}`,
);
assert.equal(loads, 1);
assert.ok(prices.every((p) => p.price === prices[0]!.price));

// Hot key: call it every 50 ms for 2.5 s with expire = 1 s. XFetch refreshes it in the background
// before it expires, so (almost) no caller waits for the loader after the first one.
let slowCalls = 0;
const started = Date.now();
while (Date.now() - started < 2500) {
  const t0 = performance.now();
  await getPrice('ACME');
  if (performance.now() - t0 > 100) slowCalls++;
  await pause(50);
}
console.log(
  `2.5 s of calls: loader ran ${loads} time(s) in total, ${slowCalls} call(s) waited for it`,
);
assert.ok(loads >= 2, 'a 1 s expiry over 2.5 s of calls must have refreshed the key');
console.log(`the key a call reads and writes: ${JSON.stringify(getPrice.cacheKey('ACME'))}`);
cache.close();
rmSync(cache.directory, { recursive: true, force: true });
