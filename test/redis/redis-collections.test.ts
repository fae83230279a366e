/**
 * RedisDeque, RedisIndex, RedisLock and RedisThrottle against a real redis-server (started by this
 * file on a free port): the same results as the SQLite Deque and Index for the same operations,
 * waiting pops and acquires woken by another object (as another process would), the key layout
 * (one hash slot, no TTL), errors, and the throttle's budget.
 */

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { Deque, Index, KeyError, NotOwnedError, Timeout } from '../../src/index.js';
import { COLLECTION_SCRIPTS } from '../../src/redis/collection-scripts.js';
import {
  RedisDeque,
  RedisIndex,
  type RedisLike,
  RedisLock,
  RedisThrottle,
  redisThrottle,
} from '../../src/redis/index.js';
import { redisForFile } from '../helpers/redis-file.js';
import { findRedisServer, RedisServer, redisTitle } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/tmp.js';

let server: RedisServer;
let client: Redis;
let names = 0;
const fresh = (kind: string) => server.locator(`${kind}-${++names}`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A small deterministic random sequence (the same ops on both backends). */
function* randomInts(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2147483648;
    yield x;
  }
}

/** Keys of one object: all in one slot, none with a TTL. */
async function expectOneSlotNoTtl(pattern: string, expected: string[]): Promise<void> {
  const keys = (await client.keys(pattern)).sort();
  expect(keys).toEqual([...expected].sort());
  const slots = new Set(
    await Promise.all(keys.map((key) => client.call('CLUSTER', 'KEYSLOT', key).catch(() => 0))),
  );
  expect(slots.size).toBe(1);
  for (const key of keys) expect(await client.pttl(key)).toBe(-1);
}

describe.skipIf(!findRedisServer())(redisTitle('Redis collections and recipes'), () => {
  const redis = redisForFile();
  beforeAll(() => {
    ({ server, client } = redis);
  });

  describe('RedisDeque', () => {
    it('appends, pops and peeks at both ends, bounded by maxlen', async () => {
      await using deque = new RedisDeque<unknown>(fresh('deque'));
      expect(await deque.popLeft()).toBeUndefined();
      expect(await deque.peek()).toBeUndefined();
      await deque.append('b');
      await deque.appendLeft('a');
      await deque.extend([{ c: 1 }, new Map([[1, 2]])]);
      expect(await deque.len()).toBe(4);
      expect(await deque.peekLeft()).toBe('a');
      expect(await deque.peek()).toEqual(new Map([[1, 2]])); // v8 path keeps the type
      expect(await deque.toArray()).toEqual(['a', 'b', { c: 1 }, new Map([[1, 2]])]);
      expect(await deque.pop()).toEqual(new Map([[1, 2]]));
      expect(await deque.popLeft()).toBe('a');
      await deque.extendLeft([1, 2]);
      expect(await deque.toArray()).toEqual([2, 1, 'b', { c: 1 }]);
      expect(await deque.clear()).toBe(4);
      expect(await deque.len()).toBe(0);
      await expect(deque.append(undefined)).rejects.toThrow(TypeError);
      await expect(deque.popLeft({ wait: -1 })).rejects.toThrow(RangeError);
      expect(() => new RedisDeque(fresh('d'), { maxlen: -1 })).toThrow(RangeError);
      expect(() => new RedisDeque('redis://127.0.0.1/0')).toThrow(/after '#'/);

      await using bounded = new RedisDeque<number>(fresh('bounded'), { maxlen: 3 });
      await bounded.extend([1, 2, 3, 4, 5]);
      expect(await bounded.toArray()).toEqual([3, 4, 5]);
      await bounded.appendLeft(0);
      expect(await bounded.toArray()).toEqual([0, 3, 4]);
    });

    it('gives the same results as the SQLite Deque for the same operations', async () => {
      await using redis = new RedisDeque<number>(fresh('same'));
      using local = new Deque<number>(tempDir('redis-deque-same'));
      const random = randomInts(7);
      for (let step = 0; step < 300; step++) {
        const n = random.next().value! % 6;
        const value = random.next().value! % 1000;
        const [a, b] =
          n === 0
            ? [await redis.append(value), local.append(value)]
            : n === 1
              ? [await redis.appendLeft(value), local.appendLeft(value)]
              : n === 2
                ? [await redis.pop(), local.pop()]
                : n === 3
                  ? [await redis.popLeft(), local.popLeft()]
                  : n === 4
                    ? [await redis.peek(), local.peek()]
                    : [await redis.peekLeft(), local.peekLeft()];
        expect(a, `step ${step}, op ${n}`).toEqual(b);
        expect(await redis.len()).toBe(local.length);
      }
      expect(await redis.toArray()).toEqual([...local]);
    });

    it('popLeft({wait}) waits for an item another object appends, ends empty, and aborts', async () => {
      const locator = fresh('wait');
      await using deque = new RedisDeque<string>(locator);
      await using other = new RedisDeque<string>(locator); // its own connection, as another process
      expect(await deque.popLeft({ wait: 0.1 })).toBeUndefined();
      const started = performance.now();
      setTimeout(() => void other.append('late'), 300);
      expect(await deque.popLeft({ wait: 30 })).toBe('late');
      // Woken by the publish, not by a poll at the end of a long pause.
      expect(performance.now() - started).toBeLessThan(5000);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      await expect(deque.pop({ wait: 30, signal: controller.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
      const consumed: string[] = [];
      const stop = new AbortController();
      const loop = (async () => {
        for await (const item of deque.consume({ signal: stop.signal })) {
          consumed.push(item);
          if (consumed.length === 3) stop.abort();
        }
      })();
      await other.extend(['x', 'y']);
      await pause(50);
      await other.append('z');
      await loop;
      expect(consumed).toEqual(['x', 'y', 'z']);
    });

    it('keeps its keys in one slot with no TTL, readable JSON, on a client you own', async () => {
      const deque = new RedisDeque<{ a: number }>({ client, name: 'layout' });
      await deque.append({ a: 1 });
      expect(deque.keyPrefix).toBe('dd:{layout}:');
      await deque.close();
      expect(client.status).toBe('ready'); // a client you pass in stays open
      await expectOneSlotNoTtl('dd:{layout}:*', ['dd:{layout}:items']);
      expect(await client.lrange('dd:{layout}:items', 0, -1)).toEqual(['{"a":1}']);
    });
  });

  describe('RedisIndex', () => {
    it('is an ordered map: set, get, has, delete, pop, add, setDefault, popItem, clear', async () => {
      await using index = new RedisIndex<unknown>(fresh('index'));
      expect(await index.get('a')).toBeUndefined();
      await index.set('a', 1);
      await index.set(2, 'two'); // numbers and strings never collide
      await index.set('2', 'string two');
      await index.set('d', new Date(0));
      await index.set('a', 'again'); // overwriting keeps its place
      expect(await index.len()).toBe(4);
      expect(await index.get(2)).toBe('two');
      expect(await index.get('2')).toBe('string two');
      expect(await index.get('d')).toEqual(new Date(0));
      expect(await index.has('a')).toBe(true);
      const keys: unknown[] = [];
      for await (const key of index.keys()) keys.push(key);
      expect(keys).toEqual(['a', 2, '2', 'd']);
      expect(await index.delete('a')).toBe(true);
      expect(await index.delete('a')).toBe(false);
      await index.set('a', 'last');
      const items: unknown[] = [];
      for await (const item of index) items.push(item);
      expect(items).toEqual([
        [2, 'two'],
        ['2', 'string two'],
        ['d', new Date(0)],
        ['a', 'last'],
      ]);
      const values: unknown[] = [];
      for await (const value of index.values()) values.push(value);
      expect(values).toEqual(['two', 'string two', new Date(0), 'last']);
      expect(await index.add('a', 'no')).toBe(false);
      expect(await index.add('new', 'yes')).toBe(true);
      expect(await index.setDefault('new', 'no')).toBe('yes');
      expect(await index.setDefault('other', 'set')).toBe('set');
      expect(await index.pop('other')).toBe('set');
      await expect(index.pop('other')).rejects.toThrow(KeyError);
      expect(await index.pop('other', null)).toBeNull();
      expect(await index.popItem()).toEqual(['new', 'yes']);
      expect(await index.popItem({ last: false })).toEqual([2, 'two']);
      expect(await index.clear()).toBe(3);
      await expect(index.popItem()).rejects.toThrow(KeyError);
      await expect(index.set('k', undefined)).rejects.toThrow(TypeError);
      await expect(index.get(1.5)).rejects.toThrow(TypeError);
    });

    it('gives the same results as the SQLite Index for the same operations', async () => {
      await using redis = new RedisIndex<number>(fresh('index-same'));
      using local = new Index<string, number>(tempDir('redis-index-same'));
      const random = randomInts(11);
      for (let step = 0; step < 300; step++) {
        const n = random.next().value! % 5;
        const key = `k${random.next().value! % 12}`;
        const value = random.next().value! % 1000;
        const [a, b] =
          n === 0
            ? [(await redis.set(key, value)) && undefined, local.set(key, value) && undefined]
            : n === 1
              ? [await redis.get(key), local.get(key)]
              : n === 2
                ? [await redis.delete(key), local.delete(key)]
                : n === 3
                  ? [await redis.setDefault(key, value), local.setDefault(key, value)]
                  : [await redis.pop(key, null), local.pop(key, null)];
        expect(a, `step ${step}, op ${n}`).toEqual(b);
      }
      const items: unknown[] = [];
      for await (const item of redis.items()) items.push(item);
      expect(items).toEqual([...local.entries()]);
      expect(await redis.len()).toBe(local.size);
    });

    it('keeps its keys in one slot with no TTL', async () => {
      const index = new RedisIndex({ client, name: 'layout' });
      await index.set('k', 'v');
      await index.close();
      await expectOneSlotNoTtl('di:{layout}:*', [
        'di:{layout}:map',
        'di:{layout}:map:order',
        'di:{layout}:map:seq',
      ]);
      expect(await client.hget('di:{layout}:map', 's:k')).toBe('"v"');
    });
  });

  describe('RedisLock', () => {
    it('is taken once, released only by its holder, and woken at a release', async () => {
      const locator = fresh('lock');
      await using lock = new RedisLock(locator);
      await using other = new RedisLock(locator);
      expect(await lock.locked()).toBe(false);
      expect(await lock.tryAcquire()).toBe(true);
      expect(await other.tryAcquire()).toBe(false);
      expect(await lock.tryAcquire()).toBe(false); // not re-entrant
      await expect(other.release()).rejects.toThrow(NotOwnedError);
      expect(await lock.locked()).toBe(true);
      const order: string[] = [];
      const waiting = other.acquire().then(() => order.push('other acquired'));
      await pause(100);
      order.push('released');
      await lock.release();
      await waiting;
      expect(order).toEqual(['released', 'other acquired']);
      await expect(lock.release()).rejects.toThrow(NotOwnedError);
      await expect(lock.acquire({ timeout: 0.2 })).rejects.toThrow(Timeout);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      await expect(lock.acquire({ signal: controller.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
      await other.release();
      expect(await lock.run(async () => 'ran')).toBe('ran');
      expect(await lock.locked()).toBe(false);
      expect(() => new RedisLock(locator, { expire: 0 })).toThrow(RangeError);
    });

    it('a hold that expired is lost: its release throws and does not free the next holder', async () => {
      const locator = fresh('expire');
      await using slow = new RedisLock(locator, { expire: 0.2 });
      await using next = new RedisLock(locator, { expire: 30 });
      await slow.acquire();
      await next.acquire({ timeout: 30 }); // possible only because slow's hold expired
      await expect(slow.release()).rejects.toThrow(NotOwnedError);
      expect(await next.locked()).toBe(true);
      await next.release();
    });

    it('tasks sharing one object queue behind each other; the hash has no TTL', async () => {
      const lock = new RedisLock({ client, name: 'layout' }, { expire: 60 });
      let inside = 0;
      let maxInside = 0;
      await Promise.all(
        Array.from({ length: 6 }, () =>
          lock.run(async () => {
            maxInside = Math.max(maxInside, ++inside);
            await pause(5);
            inside--;
          }),
        ),
      );
      expect(maxInside).toBe(1);
      await lock.acquire();
      await expectOneSlotNoTtl('dl:{layout}:*', ['dl:{layout}:owner']);
      await lock.release();
      await lock.close();
    });
  });

  describe('RedisLock re-sent', () => {
    it('an acquire and a release sent twice (re-sent after a reconnection) count once', async () => {
      const sha = createHash('sha1').update(COLLECTION_SCRIPTS.lockOp).digest('hex');
      expect(await client.script('LOAD', COLLECTION_SCRIPTS.lockOp)).toBe(sha);
      // The seam: a client that runs every lock script twice, as a re-sent command would.
      const twice = new Proxy(client, {
        get(target, property, receiver) {
          if (property !== 'evalsha') return Reflect.get(target, property, receiver);
          return async (hash: string, ...args: (string | number)[]) => {
            if (hash === sha) await target.evalsha(hash, ...(args as [number, ...string[]]));
            return target.evalsha(hash, ...(args as [number, ...string[]]));
          };
        },
      }) as unknown as RedisLike;
      const lock = new RedisLock({ client: twice, name: 'resent' }, { expire: 30 });
      expect(await lock.tryAcquire()).toBe(true); // its second run found its own token
      expect(await new RedisLock({ client, name: 'resent' }).tryAcquire()).toBe(false);
      await lock.release(); // its second run found its own token released
      expect(await lock.locked()).toBe(false);
      expect(await lock.tryAcquire()).toBe(true);
      await lock.release();
      await lock.close();
    });
  });

  describe('RedisThrottle', () => {
    it('starts with a full bucket of count, then one token per seconds/count', async () => {
      await using bucket = new RedisThrottle(fresh('throttle'), { count: 5, seconds: 1 });
      for (let i = 0; i < 5; i++) expect(await bucket.tryTake()).toBe(0);
      const wait = await bucket.tryTake();
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(0.2);
      const started = performance.now();
      const calls = bucket.wrap(async (n: number) => n * 2);
      expect(await Promise.all([calls(1), calls(2), calls(3)])).toEqual([2, 4, 6]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(400); // 3 tokens at 5/s
      expect(() => new RedisThrottle(fresh('t'), { count: 0, seconds: 1 })).toThrow(RangeError);
      expect(() => new RedisThrottle(fresh('t'), { count: 1, seconds: 0 })).toThrow(RangeError);
      expect(() => redisThrottle('redis://h#x' as never, { count: 1, seconds: 1 })).toThrow(
        TypeError,
      );
      const limited = redisThrottle(
        { client, name: 'decorated' },
        { count: 2, seconds: 1 },
      )(function add(a: number, b: number) {
        return a + b;
      });
      expect(limited.name).toBe('add');
      expect(await limited(1, 2)).toBe(3);
      expect(await client.pttl('dt:{decorated}:bucket')).toBe(-1);
    });
  });
  describe('after a server restart (appendonly yes)', () => {
    it('keeps what reached the AOF (items, entries, a held lock); calls made during the outage complete after it', async () => {
      const own = await RedisServer.start({ appendonly: true });
      try {
        await using deque = new RedisDeque<string>(own.locator('q'));
        await using index = new RedisIndex<number>(own.locator('seen'));
        await using lock = new RedisLock(own.locator('job'), { expire: 60 });
        await deque.extend(['a', 'b']);
        await index.set('x', 1);
        await lock.acquire();
        await pause(1100); // appendfsync everysec
        await own.kill();
        const waiting = (async () => {
          await deque.popLeft(); // 'a': made while the server is down, sent after the reconnection
          await deque.popLeft(); // 'b'
          return deque.popLeft({ wait: 60 }); // woken once 'c' comes
        })();
        await pause(300);
        await own.start();
        expect(await index.get('x')).toBe(1);
        expect(await lock.locked()).toBe(true);
        await using other = new RedisLock(own.locator('job'));
        expect(await other.tryAcquire()).toBe(false); // the hold survived the restart
        await pause(200);
        await deque.append('c');
        expect(await waiting).toBe('c');
        await lock.release();
        expect(await other.tryAcquire()).toBe(true);
        await other.release();
      } finally {
        await own.stop();
      }
    }, 60_000);
  });
});
