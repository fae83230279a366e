/**
 * The basic Cache operations (python-diskcache's first pattern): set and get with types kept,
 * has/delete, expiry in seconds, atomic add and incr, pop, which check the read cache uses, and
 * the same data seen again after the cache is closed and reopened (as another process would see it). Run: npx tsx examples/basic-operations.ts
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Cache } from '../src/index.js';

const cache = new Cache(); // no directory: a new temporary one (pass a path to keep it)
const directory = cache.directory;

// Any structured-clone value; it reads back with its type.
cache.set('user:1', { name: 'Ada', langs: new Set(['en', 'fr']), joined: new Date(0) });
const user = cache.get<{ name: string; langs: Set<string>; joined: Date }>('user:1');
console.log('get user:1 →', user);
assert.equal(user?.name, 'Ada');
assert.ok(user?.langs instanceof Set && user.joined instanceof Date);

// has / delete / a default for a missing key.
assert.equal(cache.has('user:1'), true);
assert.equal(cache.delete('user:1'), true);
assert.equal(cache.has('user:1'), false);
assert.equal(cache.get('user:1', { default: 'gone' }), 'gone');
console.log('after delete: has(user:1) = false, get with a default → "gone"');

// Expiry is in seconds, as in python-diskcache.
cache.set('session', 'abc', { expire: 0.2 });
assert.equal(cache.get('session'), 'abc');
await new Promise((resolve) => setTimeout(resolve, 300));
assert.equal(cache.get('session'), undefined);
console.log('a value set with expire: 0.2 is gone 0.3 s later');

// Atomic across processes: add only stores when the key is absent; incr counts.
assert.equal(cache.add('once', 1), true);
assert.equal(cache.add('once', 2), false);
assert.equal(cache.incr('hits'), 1);
assert.equal(cache.incr('hits', 10), 11);
assert.equal(cache.pop('hits'), 11);
console.log('add: true then false; incr: 1 then 11; pop(hits) → 11');

// Entries with their expiry time and tag.
cache.set('config', { debug: false }, { expire: 60, tag: 'settings' });
const entry = cache.getEntry('config');
console.log('getEntry(config) →', entry);
assert.equal(entry?.tag, 'settings');
assert.ok(entry !== undefined && entry.expireTime !== null && entry.expireTime > Date.now() / 1000);

console.log(
  `size ${cache.size}, keys ${JSON.stringify([...cache.keys()])}, volume ${cache.volume()} bytes`,
);
assert.deepEqual([...cache.keys()], ['once', 'config']);

// Repeated reads of unchanged entries are answered from memory; each read first checks that no
// process committed since: 'shm' (the WAL-index header, through the native addon built at
// install) or 'data_version' (a SQLite statement: without the addon, or outside WAL mode).
const validator = cache.readCacheValidator;
console.log('the read cache validates with', validator);
assert.ok(validator === 'shm' || validator === 'data_version');
cache.close();

// Reopen the directory: everything is still there (a second process sees the same).
const again = new Cache(directory);
assert.deepEqual(again.get('config'), { debug: false });
console.log('reopened: config is still', again.get('config'));
again.close();
rmSync(directory, { recursive: true, force: true });
