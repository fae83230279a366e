/**
 * collection-scripts: the Lua scripts of RedisDeque, RedisIndex, RedisLock and redisThrottle, one
 * per operation, so that every change touching several keys is atomic on the server. As in
 * scripts.ts, KEYS[1] is the object's key prefix (`dd:{name}:`, `di:{name}:`, `dl:{name}:`,
 * `dt:{name}:`) and every key is built from it (one hash slot); no key ever gets a TTL (an
 * expiring lock or bucket stores its expiry time instead, so no `maxmemory` policy can evict
 * it); time is the server's (`TIME`). Layout (docs/scale-out.md, "Key layout"):
 *   dd:{name}:items         list    the deque, front = left
 *   dd:{name}:wake          pub/sub published when items were added
 *   di:{name}:map           hash    field -> value  (field: 's:' + string key, or 'n:' + integer)
 *   di:{name}:map:order     zset    field -> insertion number (di:{name}:map:seq)
 *   dl:{name}:owner         hash    t holder's token, e expiry (server ms, 0 = never),
 *                                   r token of the last hold released
 *   dl:{name}:wake          pub/sub published at a release
 *   dt:{name}:bucket        hash    t last refill (server ms), n tokens left
 * This file holds text only: it must not talk to Redis.
 */
import { LUA_BASE, mapScripts } from './scripts.js';

/** ARGV: side ('l' | 'r'), maxlen (-1: none), values. Returns the new length. */
const DEQUE_PUSH = `
local L = P .. 'items'
local cmd = ARGV[1] == 'l' and 'LPUSH' or 'RPUSH'
for i = 3, #ARGV, 1000 do redis.call(cmd, L, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
local maxlen = tonumber(ARGV[2])
if maxlen == 0 then
  redis.call('DEL', L)
elseif maxlen > 0 then
  if ARGV[1] == 'l' then redis.call('LTRIM', L, 0, maxlen - 1) else redis.call('LTRIM', L, -maxlen, -1) end
end
local n = redis.call('LLEN', L)
if n > 0 then redis.call('PUBLISH', P .. 'wake', '1') end
return n
`;

/** ARGV: op ('popLeft' | 'pop' | 'peekLeft' | 'peek' | 'len' | 'clear' | 'range'), start, stop. */
const DEQUE_OP = `
local L = P .. 'items'
local op = ARGV[1]
if op == 'popLeft' then return redis.call('LPOP', L) end
if op == 'pop' then return redis.call('RPOP', L) end
if op == 'peekLeft' then return redis.call('LINDEX', L, 0) end
if op == 'peek' then return redis.call('LINDEX', L, -1) end
if op == 'len' then return redis.call('LLEN', L) end
if op == 'range' then return redis.call('LRANGE', L, tonumber(ARGV[2]), tonumber(ARGV[3])) end
local n = redis.call('LLEN', L)
redis.call('DEL', L)
return n
`;

const MAP = mapScripts('map');

/**
 * ARGV: op, field, value. 'pop': removes the field, returns its value (nil when absent).
 * 'add': sets it only when absent; returns {1, value} (added) or {0, the stored value}.
 * 'popItem': removes the last (ARGV[2] = 'last') or first entry; returns {field, value} or nil.
 * 'clear': removes every entry; returns how many there were.
 */
const INDEX_OP = `
local H = P .. 'map'
local ORDER = P .. 'map:order'
local op = ARGV[1]
if op == 'pop' then
  local value = redis.call('HGET', H, ARGV[2])
  if value then
    redis.call('HDEL', H, ARGV[2])
    redis.call('ZREM', ORDER, ARGV[2])
  end
  return value
end
if op == 'add' then
  local value = redis.call('HGET', H, ARGV[2])
  if value then return {0, value} end
  redis.call('HSET', H, ARGV[2], ARGV[3])
  redis.call('ZADD', ORDER, redis.call('INCR', P .. 'map:seq'), ARGV[2])
  return {1, ARGV[3]}
end
if op == 'popItem' then
  local at = ARGV[2] == 'last' and -1 or 0
  local field = redis.call('ZRANGE', ORDER, at, at)[1]
  if not field then return nil end
  local value = redis.call('HGET', H, field)
  redis.call('HDEL', H, field)
  redis.call('ZREM', ORDER, field)
  return {field, value}
end
local n = redis.call('HLEN', H)
redis.call('DEL', H, ORDER)
return n
`;

/**
 * ARGV: op, token, expire (ms, 0 = never).
 * 'acquire': takes the lock when it is free or its holder's hold expired; returns 0 (taken), -1
 * (held for ever) or the ms until the current hold expires.
 * 'release': frees it when the token holds it; returns 1, or 0 (not the holder, or expired).
 * 'locked': 1 when someone holds it now.
 * Both are safe to run twice (a call re-sent after a reconnection): an acquire finds its own
 * token, a release finds it in `r`, the token of the last hold released in time.
 */
const LOCK_OP = `
local K = P .. 'owner'
local now = nowMs()
local held = redis.call('HMGET', K, 't', 'e', 'r')
local expiry = tonumber(held[2]) or 0
local live = held[1] and (expiry == 0 or expiry > now)
if ARGV[1] == 'acquire' then
  if live and held[1] == ARGV[2] then return 0 end
  if live then
    if expiry == 0 then return -1 end
    return expiry - now
  end
  local ms = tonumber(ARGV[3])
  redis.call('HSET', K, 't', ARGV[2], 'e', ms > 0 and now + ms or 0)
  return 0
end
if ARGV[1] == 'release' then
  if held[1] ~= ARGV[2] then
    if held[3] == ARGV[2] then return 1 end
    return 0
  end
  redis.call('HDEL', K, 't', 'e')
  redis.call('PUBLISH', P .. 'wake', '1')
  if not live then return 0 end
  redis.call('HSET', K, 'r', ARGV[2])
  return 1
end
if live then return 1 end
return 0
`;

/**
 * A token bucket: ARGV count, period (ms). Takes a token when there is one and returns 0; else
 * returns the ms until there will be one. The bucket starts full.
 */
const THROTTLE_TAKE = `
local K = P .. 'bucket'
local now = nowMs()
local count = tonumber(ARGV[1])
local rate = count / tonumber(ARGV[2])
local held = redis.call('HMGET', K, 't', 'n')
local last = tonumber(held[1]) or now
local tokens = tonumber(held[2]) or count
local tally = math.min(count, tokens + math.max(0, now - last) * rate)
if tally >= 1 then
  redis.call('HSET', K, 't', now, 'n', string.format('%.17g', tally - 1))
  return 0
end
return math.max(1, math.ceil((1 - tally) / rate))
`;

const BODIES = {
  dequePush: DEQUE_PUSH,
  dequeOp: DEQUE_OP,
  indexOp: INDEX_OP,
  ...MAP,
  lockOp: LOCK_OP,
  throttleTake: THROTTLE_TAKE,
} as const;

export type CollectionScriptName = keyof typeof BODIES;

/** The full text of each script (prelude included), the same string at every call. */
export const COLLECTION_SCRIPTS = Object.fromEntries(
  Object.entries(BODIES).map(([name, body]) => [name, LUA_BASE + body]),
) as Record<CollectionScriptName, string>;
