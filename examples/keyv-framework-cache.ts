/**
 * A framework cache through the Keyv adapter: cache-manager 7's `createCache` (what NestJS's
 * CacheModule uses) over `KeyvDiskcache`. Two "app instances" (as two cluster workers would)
 * point at one directory: a value computed by one is served to the other, TTLs are milliseconds
 * as everywhere in Keyv, and namespaces keep two Keyv users of one directory apart.
 * Run: npx tsx examples/keyv-framework-cache.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCache } from 'cache-manager';
import Keyv from 'keyv';
import { KeyvDiskcache } from '../src/adapters/keyv.js';

const directory = mkdtempSync(join(tmpdir(), 'keyv-example-'));

/** One app instance's cache-manager, persisted to the shared directory. */
function appCache() {
  return createCache({ stores: [new Keyv({ store: new KeyvDiskcache(directory) })] });
}

let fetches = 0;
async function fetchUser(id: number) {
  fetches++;
  await new Promise((resolve) => setTimeout(resolve, 100)); // a slow database or API
  return { id, name: `user ${id}` };
}

const first = appCache();
const second = appCache();
const a = await first.wrap('user:42', () => fetchUser(42), 60_000); // computed, stored for 60 s
const b = await second.wrap('user:42', () => fetchUser(42), 60_000); // read from disk
console.log(
  `instance 1 got ${JSON.stringify(a)}, instance 2 got ${JSON.stringify(b)}; fetched ${fetches} time(s)`,
);
assert.deepEqual(a, b);
assert.equal(fetches, 1);

// TTL in milliseconds: gone for every instance once it has passed.
await first.set('flash', 'saved!', 150);
assert.equal(await second.get('flash'), 'saved!');
await new Promise((resolve) => setTimeout(resolve, 250));
assert.equal(await second.get('flash'), undefined);
console.log('a value set with a 150 ms TTL is gone for the other instance 250 ms later');

// Namespaces: two Keyv users of one directory do not see (or clear) each other's keys.
const sessions = new Keyv({ store: new KeyvDiskcache(directory), namespace: 'sessions' });
const carts = new Keyv({ store: new KeyvDiskcache(directory), namespace: 'carts' });
await sessions.set('u1', { token: 'abc' });
await carts.set('u1', ['book']);
await sessions.clear();
assert.equal(await sessions.get('u1'), undefined);
assert.deepEqual(await carts.get('u1'), ['book']);
console.log("sessions.clear() left the 'carts' namespace alone:", await carts.get('u1'));

await Promise.all([
  first.disconnect(),
  second.disconnect(),
  sessions.disconnect(),
  carts.disconnect(),
]);
rmSync(directory, { recursive: true, force: true });
