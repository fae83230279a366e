/**
 * crawl-state-redis: the shared state of a crawl whose queue is `redis://…#name`, all in Redis on
 * one connection per process: the deferred links in the RedisIndex `<name>:deferred`, one
 * RedisThrottle per host (`<name>:rate:<host>`), the Retry-After pauses in the hash
 * `dcrawl:{name}:pauses` (host -> until, in the server's milliseconds: machines whose clocks
 * disagree still agree on a pause) and the robots.txt bodies in `dcrawl:{name}:robots` (origin ->
 * body, stamped in `…:robots:at`); no key has a TTL. `deleteRedisCrawl` removes all of it with
 * the queue (`--fresh`).
 */
import {
  connectRedis,
  parseRedisLocator,
  type RedisLike,
  ScriptRunner,
} from '../redis/redis-client.js';
import { quitClient } from '../redis/redis-handle.js';
import { RedisIndex } from '../redis/redis-index.js';
import { RedisThrottle } from '../redis/redis-lock.js';
import type { DeferredLink } from './crawl-handler.js';
import {
  assembleState,
  type CrawlState,
  type PolitenessStore,
  ROBOTS_SECONDS,
  type RobotsStore,
} from './crawl-state.js';

/** The server's time in ms (KEYS[1] is the crawl's prefix). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
/** ARGV: host → ms the host stays paused (negative: not paused). */
const PAUSED_FOR = `${NOW}local ends = tonumber(redis.call('HGET', KEYS[1] .. 'pauses', ARGV[1]) or '0')
return ends - now`;
/** ARGV: host, ms → pauses the host that long from now unless it is paused longer. */
const PAUSE = `${NOW}local key = KEYS[1] .. 'pauses'
local ends = now + tonumber(ARGV[2])
if tonumber(redis.call('HGET', key, ARGV[1]) or '0') < ends then
  redis.call('HSET', key, ARGV[1], ends)
end
return 0`;

/** ARGV: origin, max age (ms) → the robots.txt body stored less than max age ago, or nil. */
const ROBOTS_GET = `${NOW}local at = tonumber(redis.call('HGET', KEYS[1] .. 'robots:at', ARGV[1]) or '0')
if now - at > tonumber(ARGV[2]) then return false end
return redis.call('HGET', KEYS[1] .. 'robots', ARGV[1])`;
/** ARGV: origin, body → stores the body, stamped with the server's time. */
const ROBOTS_SET = `${NOW}redis.call('HSET', KEYS[1] .. 'robots', ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1] .. 'robots:at', ARGV[1], now)
return 0`;

/** The names of a crawl's Redis objects beside its queue `name`. */
export function crawlKeyNames(name: string) {
  return {
    prefix: `dcrawl:{${name}}:`,
    deferred: `${name}:deferred`,
    rate: (host: string) => `${name}:rate:${host}`,
  };
}

/** The state of the crawl on the queue `locator`, on a connection of its own. */
export async function openRedisCrawlState(locator: string): Promise<CrawlState> {
  const { url, name } = parseRedisLocator(locator);
  const names = crawlKeyNames(name);
  const client = await connectRedis(url);
  const scripts = new ScriptRunner(client, names.prefix);
  const throttles: RedisThrottle[] = [];
  const politeness: PolitenessStore = {
    async pausedFor(host) {
      return Number(await scripts.run(PAUSED_FOR, [host])) / 1000;
    },
    async pause(host, seconds) {
      await scripts.run(PAUSE, [host, Math.ceil(seconds * 1000)]);
    },
    limiter(host, period) {
      const bucket = new RedisThrottle(
        { client, name: names.rate(host) },
        { count: 1, seconds: period },
      );
      throttles.push(bucket);
      return async (request) => {
        await bucket.take();
        return request();
      };
    },
  };
  const robots: RobotsStore = {
    async get(origin) {
      const text = await scripts.run(ROBOTS_GET, [origin, ROBOTS_SECONDS * 1000]);
      return typeof text === 'string' ? text : undefined;
    },
    async set(origin, text) {
      await scripts.run(ROBOTS_SET, [origin, text]);
    },
  };
  return assembleState({
    politeness,
    robots,
    openDeferred() {
      const links = new RedisIndex<DeferredLink>({ client, name: names.deferred });
      return {
        async addMany(later) {
          await Promise.all(later.map((link) => links.add(link.url, link)));
        },
        async *entries() {
          for await (const [url, link] of links.entries()) yield [String(url), link];
        },
        async delete(url) {
          await links.delete(url);
        },
        close: () => links.close(),
      };
    },
    async close() {
      await Promise.all(throttles.map((bucket) => bucket.close()));
      await quitClient(client);
    },
  });
}

/** `*`, `?`, `[`, `]` and `\` escaped for a SCAN MATCH pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Deletes every key of the crawl on `locator`: its queue (`dq:{name}:…`), deferred links, rate
 * buckets and pauses. Resolves with how many keys were deleted.
 */
export async function deleteRedisCrawl(locator: string): Promise<number> {
  const { url, name } = parseRedisLocator(locator);
  const names = crawlKeyNames(name);
  const client = (await connectRedis(url)) as RedisLike & {
    scan(cursor: string, ...args: (string | number)[]): Promise<[string, string[]]>;
    del(...keys: string[]): Promise<number>;
  };
  const escaped = globEscape(name);
  const patterns = [
    `dq:{${escaped}}:*`,
    `${globEscape(names.prefix)}*`,
    `di:{${globEscape(names.deferred)}}:*`,
    `dt:{${escaped}:rate:*}:*`,
  ];
  let deleted = 0;
  try {
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await client.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    await quitClient(client);
  }
  return deleted;
}
