/**
 * KeyvDiskcache under the real keyv 5 and cache-manager 7, on real directories: the adapter's
 * operations through Keyv, TTLs in milliseconds becoming the Cache's seconds, namespaces sharing
 * one directory, values through Keyv's serialization (and raw, as cache-manager stores them),
 * iteration, wrap(), two processes on one directory, and who closes the Cache.
 */
import { createCache } from 'cache-manager';
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import { describe, expect, it } from 'vitest';
import { KeyvDiskcache } from '../../src/adapters/keyv.js';
import { Cache } from '../../src/index.js';
import { exited, forkFixture, message } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// TTLs that must still be live when checked right after the set are 1 s (slack for a loaded
// machine); their expiry is then polled for instead of slept for.

/** A Keyv on a fresh adapter over `directory` (a new temp directory by default). */
function keyvOn(directory = tempDir('keyv'), namespace?: string) {
  const store = new KeyvDiskcache(directory);
  const keyv = new Keyv(namespace === undefined ? { store } : { store, namespace });
  return { keyv, store, directory };
}

describe('KeyvDiskcache through Keyv', () => {
  it('is a KeyvStoreAdapter (checked by tsc) that Keyv accepts', async () => {
    const store: KeyvStoreAdapter = new KeyvDiskcache(tempDir('keyv'));
    const keyv = new Keyv({ store });
    expect(keyv.store).toBe(store);
    expect(store.namespace).toBe('keyv');
    await keyv.disconnect();
  });

  it('sets, gets, has, deletes and clears', async () => {
    const { keyv, store } = keyvOn();
    expect(await keyv.get('missing')).toBeUndefined();
    expect(await keyv.set('a', 'alpha')).toBe(true);
    expect(await keyv.set('b', { n: 1 })).toBe(true);
    expect(await keyv.get('a')).toBe('alpha');
    expect(await keyv.get('b')).toEqual({ n: 1 });
    expect(await keyv.has('a')).toBe(true);
    expect(await keyv.has('missing')).toBe(false);
    expect(await keyv.delete('a')).toBe(true);
    expect(await keyv.delete('a')).toBe(false);
    expect(await keyv.get('a')).toBeUndefined();
    // On disk: Keyv's prefixed key, tagged with the namespace.
    expect(store.cache.getEntry('keyv:b')?.tag).toBe('keyv');
    await keyv.clear();
    expect(await keyv.get('b')).toBeUndefined();
    expect(store.cache.size).toBe(0);
    await keyv.disconnect();
  });

  it('turns TTLs in milliseconds into the Cache expiry in seconds', async () => {
    const { keyv, store } = keyvOn();
    const before = Date.now() / 1000;
    await keyv.set('short', 'v', 1000);
    await keyv.set('long', 'v', 60_000);
    await keyv.set('forever', 'v');
    const short = store.cache.getEntry('keyv:short')!.expireTime!;
    const long = store.cache.getEntry('keyv:long')!.expireTime!;
    expect(short).toBeGreaterThanOrEqual(before + 1);
    expect(short).toBeLessThan(before + 5);
    expect(long).toBeGreaterThanOrEqual(before + 60);
    expect(long).toBeLessThan(before + 65);
    expect(store.cache.getEntry('keyv:forever')!.expireTime).toBeNull();
    expect(await keyv.get('short')).toBe('v');
    await until(async () => !(await keyv.has('short')), "'short' expires");
    expect(await keyv.has('short')).toBe(false);
    expect(await keyv.get('short')).toBeUndefined();
    // Expired in the Cache itself, not only in Keyv's envelope: other readers agree.
    expect(store.cache.get('keyv:short')).toBeUndefined();
    expect(await keyv.get('long')).toBe('v');
    await keyv.disconnect();
  });

  it("honours Keyv's default ttl option", async () => {
    const store = new KeyvDiskcache(tempDir('keyv'));
    const keyv = new Keyv({ store, ttl: 1000 });
    await keyv.set('k', 1);
    expect(await keyv.get('k')).toBe(1);
    await until(async () => (await keyv.get('k')) === undefined, "'k' expires");
    expect(await keyv.get('k')).toBeUndefined();
    expect(store.cache.get('keyv:k')).toBeUndefined();
    await keyv.disconnect();
  });

  it('serves getMany, setMany, hasMany and deleteMany from the adapter', async () => {
    const { keyv, store } = keyvOn();
    await keyv.setMany([
      { key: 'x', value: 1 },
      { key: 'y', value: 'two', ttl: 1000 },
      { key: 'z', value: [3] },
    ]);
    expect(store.cache.size).toBe(3);
    expect(await keyv.getMany(['x', 'y', 'z', 'none'])).toEqual([1, 'two', [3], undefined]);
    expect(await keyv.hasMany(['x', 'none'])).toEqual([true, false]);
    await until(async () => (await keyv.get('y')) === undefined, "'y' expires");
    expect(await keyv.getMany(['x', 'y'])).toEqual([1, undefined]);
    expect(await keyv.deleteMany(['x', 'z'])).toBe(true);
    expect(await keyv.deleteMany(['x'])).toBe(false);
    expect(await keyv.getMany(['x', 'z'])).toEqual([undefined, undefined]);
    await keyv.disconnect();
  });

  it('keeps namespaces apart on one directory; clear() clears only its own', async () => {
    const directory = tempDir('keyv');
    const a = keyvOn(directory, 'a');
    const b = keyvOn(directory, 'b');
    await a.keyv.set('k', 'from a');
    await b.keyv.set('k', 'from b');
    await b.keyv.set('only-b', 1);
    expect(await a.keyv.get('k')).toBe('from a');
    expect(await b.keyv.get('k')).toBe('from b');
    expect(await a.keyv.has('only-b')).toBe(false);
    await a.keyv.clear();
    expect(await a.keyv.get('k')).toBeUndefined();
    expect(await b.keyv.get('k')).toBe('from b');
    expect(await b.keyv.get('only-b')).toBe(1);
    await a.keyv.disconnect();
    await b.keyv.disconnect();
  });

  it('namespaces keys itself when Keyv does not prefix them (useKeyPrefix: false)', async () => {
    const directory = tempDir('keyv');
    const one = new Keyv({
      store: new KeyvDiskcache(directory),
      namespace: 'one',
      useKeyPrefix: false,
    });
    const two = new Keyv({
      store: new KeyvDiskcache(directory),
      namespace: 'two',
      useKeyPrefix: false,
    });
    await one.set('k', 1);
    await two.set('k', 2);
    expect(await one.get('k')).toBe(1);
    expect(await two.get('k')).toBe(2);
    await one.clear();
    expect(await one.get('k')).toBeUndefined();
    expect(await two.get('k')).toBe(2);
    await one.disconnect();
    await two.disconnect();
  });

  it('clear() without a namespace clears every namespace', async () => {
    const directory = tempDir('keyv');
    const a = keyvOn(directory, 'a');
    await a.keyv.set('k', 1);
    const bare = new KeyvDiskcache(directory);
    await bare.set('plain', 2);
    expect(await bare.get('plain')).toBe(2);
    await bare.clear();
    expect(await a.keyv.get('k')).toBeUndefined();
    expect(bare.cache.size).toBe(0);
    await bare.disconnect();
    await a.keyv.disconnect();
  });

  it("round-trips values as Keyv's in-memory store does, through its default serialization", async () => {
    const { keyv } = keyvOn();
    const memory = new Keyv();
    const values: unknown[] = [
      'text',
      '',
      42,
      -0.5,
      true,
      false,
      { nested: { list: [1, 'two', null] } },
      [1, [2, [3]]],
      Buffer.from([0, 1, 2, 255]),
      new Date(0).toISOString(),
      'x'.repeat(100_000),
    ];
    for (const [i, value] of values.entries()) {
      await keyv.set(`v${i}`, value);
      await memory.set(`v${i}`, value);
      expect(await keyv.get(`v${i}`)).toEqual(await memory.get(`v${i}`));
    }
    await keyv.disconnect();
  });

  it('stores raw values as structured clones when Keyv does not serialize', async () => {
    const store = new KeyvDiskcache(tempDir('keyv'));
    const keyv = new Keyv({ store, serialize: undefined, deserialize: undefined });
    const value = {
      map: new Map([[1, 'one']]),
      when: new Date(5),
      big: 2n ** 70n,
      set: new Set([1]),
    };
    await keyv.set('raw', value);
    expect(await keyv.get('raw')).toEqual(value);
    await keyv.disconnect();
  });

  it('iterates its own namespace, skipping expired entries, over many keys', async () => {
    const directory = tempDir('keyv');
    const { keyv } = keyvOn(directory, 'mine');
    const other = keyvOn(directory, 'other');
    const count = 5000;
    await keyv.setMany(Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: i })));
    await keyv.set('soon-gone', 'x', 30);
    await other.keyv.set('k0', 'not mine');
    await sleep(80);
    expect(keyv.iterator).toBeTypeOf('function');
    const seen = new Map<string, unknown>();
    for await (const [key, value] of keyv.iterator!(undefined)) seen.set(key as string, value);
    expect(seen.size).toBe(count);
    expect(seen.get('k0')).toBe(0);
    expect(seen.get(`k${count - 1}`)).toBe(count - 1);
    expect(seen.has('soon-gone')).toBe(false);
    await keyv.disconnect();
    await other.keyv.disconnect();
  });
});

describe('KeyvDiskcache under cache-manager 7', () => {
  it('wrap() computes once, then serves from the directory, and honours ttl', async () => {
    const directory = tempDir('keyv');
    const cache = createCache({ stores: [new Keyv({ store: new KeyvDiskcache(directory) })] });
    let calls = 0;
    const compute = async () => {
      calls++;
      return { n: calls };
    };
    expect(await cache.wrap('job', compute, 1000)).toEqual({ n: 1 });
    expect(await cache.wrap('job', compute, 1000)).toEqual({ n: 1 });
    expect(calls).toBe(1);
    await until(async () => (await cache.get('job')) === undefined, "'job' expires");
    expect(await cache.wrap('job', compute, 60_000)).toEqual({ n: 2 });
    expect(calls).toBe(2);
    // A second cache-manager over the same directory (a restart) serves the stored value.
    const again = createCache({ stores: [new Keyv({ store: new KeyvDiskcache(directory) })] });
    expect(await again.wrap('job', compute)).toEqual({ n: 2 });
    expect(calls).toBe(2);
    await cache.set('plain', 'v', 1000);
    expect(await again.get('plain')).toBe('v');
    await until(async () => (await again.get('plain')) === undefined, "'plain' expires");
    expect(await again.get('plain')).toBeUndefined();
    await cache.disconnect();
    await again.disconnect();
  });

  it('keeps Dates and Maps when its Keyv stores raw values (serialize: undefined)', async () => {
    const directory = tempDir('keyv');
    const rawKeyv = () =>
      new Keyv({
        store: new KeyvDiskcache(directory),
        serialize: undefined,
        deserialize: undefined,
      });
    const cache = createCache({ stores: [rawKeyv()] });
    const value = { at: new Date(1000), seen: new Map([['a', 1]]) };
    expect(await cache.wrap('typed', async () => value)).toEqual(value);
    const again = createCache({ stores: [rawKeyv()] });
    const read = await again.get<typeof value>('typed');
    expect(read?.at).toBeInstanceOf(Date);
    expect(read).toEqual(value);
    await cache.disconnect();
    await again.disconnect();
  });

  it('mset, mget, mdel and clear', async () => {
    const cache = createCache({
      stores: [new Keyv({ store: new KeyvDiskcache(tempDir('keyv')) })],
    });
    await cache.mset([
      { key: 'a', value: 1 },
      { key: 'b', value: 2, ttl: 60_000 },
    ]);
    expect(await cache.mget(['a', 'b', 'c'])).toEqual([1, 2, undefined]);
    await cache.mdel(['a']);
    expect(await cache.get('a')).toBeUndefined();
    await cache.clear();
    expect(await cache.get('b')).toBeUndefined();
    await cache.disconnect();
  });
});

describe('KeyvDiskcache across processes and ownership', () => {
  it("two processes on one directory read each other's writes through Keyv", async () => {
    const directory = tempDir('keyv');
    const count = 200;
    const children = [
      forkFixture('keyv-writer.ts', [directory, '1', '2', String(count)]),
      forkFixture('keyv-writer.ts', [directory, '2', '1', String(count)]),
    ];
    type Report = { id: string; seen: Array<{ from: string; i: number } | undefined> };
    const reports = await Promise.all(children.map((child) => message<Report>(child)));
    expect(await Promise.all(children.map(exited))).toEqual([0, 0]);
    for (const report of reports) {
      const peer = report.id === '1' ? '2' : '1';
      expect(report.seen).toEqual(Array.from({ length: count }, (_, i) => ({ from: peer, i })));
    }
    const { keyv } = keyvOn(directory, 'shared');
    expect(await keyv.get(`c1:${count - 1}`)).toEqual({ from: '1', i: count - 1 });
    expect(await keyv.get(`c2:0`)).toEqual({ from: '2', i: 0 });
    await keyv.disconnect();
  });

  it('leaves a Cache it was given open on disconnect, and closes one it opened', async () => {
    const directory = tempDir('keyv');
    const cache = new Cache(directory);
    const given = new KeyvDiskcache(cache);
    const keyv = new Keyv({ store: given });
    await keyv.set('k', 1);
    await keyv.disconnect();
    expect(cache.closed).toBe(false);
    expect(cache.get('keyv:k')).toBeTypeOf('string');
    cache.close();

    const own = new KeyvDiskcache(directory);
    expect(own.opts.directory).toBe(directory);
    await own.disconnect();
    expect(own.cache.closed).toBe(true);
    await expect(own.get('k')).rejects.toThrow();
  });

  it('rejects bad arguments with the option and the value', async () => {
    expect(() => new KeyvDiskcache('')).toThrow(/directoryOrCache.*""/);
    expect(() => new KeyvDiskcache(42 as unknown as string)).toThrow(TypeError);
    const cache = new Cache(tempDir('keyv'));
    expect(() => new KeyvDiskcache(cache, { sizeLimit: 1 })).toThrow(/sizeLimit/);
    expect(() => new KeyvDiskcache(cache, { namespace: 3 as unknown as string })).toThrow(
      /namespace.*3/,
    );
    const store = new KeyvDiskcache(cache, { namespace: 'n' });
    await expect(store.set('k', 1, -5)).rejects.toThrow(RangeError);
    await expect(store.set('k', 1, Number.NaN)).rejects.toThrow(/ttl.*NaN/);
    await expect(store.set('k', undefined)).rejects.toThrow(TypeError);
    await store.set('k', 1, 0);
    expect(cache.getEntry('n:k')).toMatchObject({ value: 1, expireTime: null, tag: 'n' });
    cache.close();
  });
});
