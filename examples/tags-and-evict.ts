/**
 * Tags: entries that belong together (everything about one user) share a tag, and `evict(tag)`
 * removes them all at once, whatever their keys. `tagIndex: true` adds an index on the tag, which
 * makes `evict` fast on a large cache. Also `expire()`, which removes every expired entry, and
 * `cull()` with a size limit. Run: npx tsx examples/tags-and-evict.ts
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Cache } from '../src/index.js';

const cache = new Cache(undefined, { tagIndex: true });

cache.set('user:1:profile', { name: 'Ada' }, { tag: 'user:1' });
cache.set('user:1:posts', ['hello', 'world'], { tag: 'user:1' });
cache.set('user:1:friends', [2, 3], { tag: 'user:1', expire: 600 });
cache.set('user:2:profile', { name: 'Grace' }, { tag: 'user:2' });
cache.set('motd', 'welcome'); // no tag

// The user changed: drop everything cached about them, in one call.
const evicted = cache.evict('user:1');
console.log(
  `evict('user:1') removed ${evicted} entries; left: ${JSON.stringify([...cache.keys()])}`,
);
assert.equal(evicted, 3);
assert.deepEqual([...cache.keys()], ['user:2:profile', 'motd']);
assert.equal(cache.getEntry('user:2:profile')?.tag, 'user:2');

// Expired entries stay on disk (and count in size) until culled; expire() removes them all now.
cache.set('flash', 'saved!', { expire: 0.1 });
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(`size before expire(): ${cache.size} (the expired 'flash' still counts)`);
assert.equal(cache.get('flash'), undefined);
assert.equal(cache.expire(), 1);
assert.equal(cache.size, 2);
console.log(`expire() removed 1 entry; size ${cache.size}`);

// A size limit: cull() removes entries in eviction-policy order until the volume fits.
const small = new Cache(undefined, { sizeLimit: 200_000, evictionPolicy: 'least-recently-stored' });
for (let i = 0; i < 10; i++) small.set(`blob:${i}`, Buffer.alloc(50_000, i)); // value files
small.cull();
console.log(
  `10 × 50 kB in a 200 kB cache, after cull(): ${small.size} entries, ${small.volume()} bytes`,
);
assert.ok(small.volume() <= 200_000);
assert.equal(small.has('blob:9'), true); // the most recently stored stay
assert.equal(small.has('blob:0'), false);

for (const c of [cache, small]) {
  c.close();
  rmSync(c.directory, { recursive: true, force: true });
}
