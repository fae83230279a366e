/**
 * RedisWorkQueue against a real redis-server (started by this file on a free port): the shared
 * AsyncWorkQueue behaviour suite, then what is Redis's own: locators, stored settings, the key
 * layout (one hash slot, no TTL), and a server restart under an open queue.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseLostError, QueueNotFoundError } from '../../src/cache/errors.js';
import { openQueue } from '../../src/collections/open-queue.js';
import { parseRedisLocator, type RedisLike, RedisWorkQueue } from '../../src/redis/index.js';
import { scriptText } from '../../src/redis/scripts.js';
import { describeAsyncQueue } from '../collections/async-queue-suite.js';
import { findRedisServer, RedisServer, redisTitle } from '../helpers/redis-server.js';

let server: RedisServer;
let names = 0;

describe.skipIf(!findRedisServer())(redisTitle('RedisWorkQueue'), () => {
  beforeAll(async () => {
    server = await RedisServer.start({ appendonly: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  describeAsyncQueue('redis', () => {
    const locator = server.locator(`suite-${++names}`);
    return { open: async (options) => new RedisWorkQueue(locator, options) };
  });

  describe('redis: locators, settings and layout', () => {
    it('parses locators and refuses bad ones', () => {
      expect(parseRedisLocator('redis://u:p@host:6380/2#crawl')).toEqual({
        url: 'redis://u:p@host:6380/2',
        name: 'crawl',
      });
      expect(parseRedisLocator('rediss://host#a%20b').name).toBe('a b');
      expect(() => parseRedisLocator('redis://host:6379/0')).toThrow(/after '#'/);
      expect(() => parseRedisLocator('redis://user:s3cret@host/0')).toThrow(/user:\*\*\*@host/);
      expect(() => parseRedisLocator('redis://host#a{b}')).toThrow(RangeError);
      expect(() => parseRedisLocator('/tmp/dir')).toThrow(TypeError);
      expect(() => new RedisWorkQueue('redis://x#q', { leaseSeconds: 0 })).toThrow(RangeError);
    });

    it('with create: false creates nothing: QueueNotFoundError until the queue is created', async () => {
      const admin = new Redis(server.port, '127.0.0.1');
      const locator = server.locator('not-yet');
      const refused = await openQueue(locator, { create: false }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(QueueNotFoundError);
      expect((refused as Error).message).toBe(
        `work queue ${locator} does not exist (no dq:{not-yet}:settings in Redis; nothing was created)`,
      );
      const looking = new RedisWorkQueue<string>(locator, { create: false });
      await expect(looking.stats()).rejects.toThrow(QueueNotFoundError);
      await expect(looking.failed()).rejects.toThrow(QueueNotFoundError);
      await expect(looking.results.size()).rejects.toThrow(QueueNotFoundError);
      expect(await admin.keys('dq:{not-yet}:*')).toEqual([]);
      // Created meanwhile: the same object now works (a failed open is tried again).
      const maker = await openQueue<string>(locator);
      await maker.put('x');
      expect(await looking.stats()).toMatchObject({ pending: 1 });
      const reader = await openQueue(locator, { create: false });
      expect(await reader.stats()).toMatchObject({ pending: 1 });
      await reader.close();
      expect(() => new RedisWorkQueue(locator, { create: 'no' as never })).toThrow(
        /create must be a boolean, got "no"/,
      );
      await looking.close();
      await maker.close();
      await admin.quit();
    });

    it('is what openQueue returns for a redis:// locator', async () => {
      const queue = await openQueue<string>(server.locator('opened'), { timeout: 5 });
      expect(queue).toBeInstanceOf(RedisWorkQueue);
      expect(queue.locator).toBe(server.locator('opened'));
      await queue.put('x');
      expect(await queue.stats()).toMatchObject({ pending: 1 });
      await queue.close();
    });

    it('keeps every key in one hash slot, none with a TTL, and works on a client you own', async () => {
      const client = new Redis(server.port, '127.0.0.1');
      const q = new RedisWorkQueue<string>({ client, name: 'layout' });
      await q.putMany(['a', 'b'], { key: (p) => p });
      await (await q.take())!.ack('A');
      await q.close();
      expect(client.status).toBe('ready'); // a client you pass in stays open
      const keys = await client.keys('dq:{layout}:*');
      expect(keys.sort()).toEqual(
        [
          'dq:{layout}:done',
          'dq:{layout}:job:1',
          'dq:{layout}:job:2',
          'dq:{layout}:keys',
          'dq:{layout}:pending',
          'dq:{layout}:results',
          'dq:{layout}:results:order',
          'dq:{layout}:results:seq',
          'dq:{layout}:seq',
          'dq:{layout}:settings',
        ].sort(),
      );
      const slots = new Set(
        await Promise.all(keys.map((key) => client.call('CLUSTER', 'KEYSLOT', key).catch(() => 0))),
      );
      expect(slots.size).toBe(1);
      for (const key of keys) expect(await client.pttl(key)).toBe(-1);
      // Payloads are readable from any client when JSON represents them.
      expect(await client.hget('dq:{layout}:job:2', 'p')).toBe('"b"');
      await client.quit();
    });

    it('counts an ack, fail or release sent twice (re-sent after a reconnection) once', async () => {
      const client = new Redis(server.port, '127.0.0.1');
      const twiceShas = new Set<string>();
      for (const name of ['ack', 'fail', 'release'] as const) {
        const sha = createHash('sha1').update(scriptText(name)).digest('hex');
        expect(await client.script('LOAD', scriptText(name))).toBe(sha);
        twiceShas.add(sha);
      }
      let doubled = 0;
      // The seam: a client that runs those scripts twice, as a re-sent command would.
      const twice = new Proxy(client, {
        get(target, property, receiver) {
          if (property !== 'evalsha') return Reflect.get(target, property, receiver);
          return async (sha: string, ...args: (string | number)[]) => {
            if (twiceShas.has(sha)) {
              doubled++;
              await target.evalsha(sha, ...(args as [number, ...string[]]));
            }
            return target.evalsha(sha, ...(args as [number, ...string[]]));
          };
        },
      }) as unknown as RedisLike;
      const q = new RedisWorkQueue<string>({ client: twice, name: 'resent' });
      await q.putMany(['a', 'b', 'c', 'd']);
      const [a, b, c, d] = await q.takeMany(4);
      expect(await q.ackMany([{ job: a!, result: 'A' }])).toEqual([]);
      await b!.ack('B');
      expect(await c!.fail(new Error('once'), { retryInSeconds: 60 })).toBe('retrying');
      await d!.release();
      expect(doubled).toBe(4);
      expect(await q.stats()).toEqual({ pending: 2, leased: 0, done: 2, failed: 0 });
      expect(await q.results.get(a!.id)).toBe('A');
      const again = (await q.take())!;
      expect([again.id, again.attempt]).toEqual([d!.id, 1]); // released once: attempt not counted
      await q.close();
      await client.quit();
    });

    it('opens while the server is still down, and works once it is up', async () => {
      const later = await RedisServer.start();
      await later.kill();
      try {
        const q = new RedisWorkQueue<string>(later.locator('later'));
        const put = q.put('waited');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await later.start();
        expect(await put).toBe(1);
        expect((await q.take())!.payload).toBe('waited');
        await q.close();
      } finally {
        await later.stop();
      }
    });

    it('reconnects after the server restarts: nothing acked or put is lost, a stale lease is still fenced', async () => {
      const own = await RedisServer.start({ appendonly: true });
      try {
        const q = new RedisWorkQueue<number>(own.locator('restart'), { leaseSeconds: 1 });
        await q.putMany([1, 2, 3]);
        const [a, b] = await q.takeMany(2);
        await a!.ack('one');
        await new Promise((resolve) => setTimeout(resolve, 1100)); // appendfsync everysec
        await own.kill();
        // A call made during the outage waits for the reconnection (ioredis's offline queue).
        const during = q.stats();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await own.start();
        const stats = await during;
        expect(stats).toEqual({ pending: 1, leased: 1, done: 1, failed: 0 });
        expect(await q.results.get(1)).toBe('one');
        // b's lease ran out meanwhile: another take reclaims it, and b's ack is refused.
        const rest = await q.takeMany(10);
        expect(rest.map((job) => [job.id, job.attempt]).sort()).toEqual([
          [2, 2],
          [3, 1],
        ]);
        await expect(b!.ack()).rejects.toThrow(LeaseLostError);
        expect(await q.ackMany(rest)).toEqual([]);
        expect(await q.stats()).toEqual({ pending: 0, leased: 0, done: 3, failed: 0 });
        await q.close();
      } finally {
        await own.stop();
      }
    });
  });
});
