/**
 * scripts: the Lua scripts of RedisWorkQueue, one per state change (or per batch of them), so
 * every change is atomic on the server. Each script gets the queue's key prefix `dq:{name}:` as
 * KEYS[1] and builds every key name from it; the `{name}` hash tag puts all of them in one slot,
 * so the scripts also run on Redis Cluster (as BullMQ's do). No key ever gets a TTL. Time is the
 * server's (`TIME`, in milliseconds), never a client's clock; Redis 7 replicates scripts by
 * effect, so that is allowed.
 *
 * Layout (docs/scale-out.md):
 *   settings            hash    version, lease_seconds, max_attempts, backoff_seconds
 *   seq                 string  the last job id (INCR)
 *   keys                hash    idempotency key -> id (until purgeDone)
 *   pending             zset    member -> ready time (ms)
 *   leased              zset    member -> lease expiry (ms)
 *   done                zset    member -> finished time (ms)
 *   failed              zset    member -> id (id order)
 *   job:ID              hash    p payload, k key, a attempt, t lease token, e error,
 *                               c created (ms), f finished (ms), s token of the lease that
 *                               last failed or released it (makes a re-sent call idempotent)
 *   results             hash    field -> value  (field: 's:' + key, or 'n:' + id)
 *   results:order       zset    field -> insertion number (results:seq)
 *   wake                pub/sub channel: "work is ready now"
 * Members of the zsets are ids zero-padded to 15 digits, so that equal scores sort by id.
 * This file holds text only: it must not talk to Redis.
 */

/** The key prefix and the server's clock in ms: the start of every script of the Redis backend. */
export const LUA_BASE = `
local P = KEYS[1]
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** Helpers prepended to every queue script. */
const PRELUDE = `${LUA_BASE}local function member(id) return string.format('%015d', tonumber(id)) end
local function jobKey(id) return P .. 'job:' .. string.format('%d', tonumber(id)) end
-- Fencing: the job is leased and its current lease is the caller's.
local function fenced(id, token)
  if not redis.call('ZSCORE', P .. 'leased', member(id)) then return false end
  return redis.call('HGET', jobKey(id), 't') == token
end
local function wake() redis.call('PUBLISH', P .. 'wake', '1') end
-- One ZADD / ZREM per 500 members instead of one per member (unpack stays far below Lua's limit).
local function zaddMany(key, scoreMembers)
  for i = 1, #scoreMembers, 1000 do
    redis.call('ZADD', key, unpack(scoreMembers, i, math.min(i + 999, #scoreMembers)))
  end
end
local function zremMany(key, members)
  for i = 1, #members, 500 do
    redis.call('ZREM', key, unpack(members, i, math.min(i + 499, #members)))
  end
end
`;

/**
 * Reads the settings, storing those given. ARGV: schema version, create ('1', or '0': write
 * nothing to a queue that does not exist), then name/value pairs. Returns the settings hash as a
 * flat list, false when the queue does not exist and create is '0', or an error for a newer
 * schema version. A queue exists once its settings hash does (every other script runs after this one).
 */
const INIT = `
local stored = tonumber(redis.call('HGET', P .. 'settings', 'version'))
if stored and stored > tonumber(ARGV[1]) then
  return redis.error_reply('this work queue was written by a newer node-diskcache (schema version ' .. stored .. '; this one reads ' .. ARGV[1] .. ')')
end
if not stored and ARGV[2] == '0' then return false end
redis.call('HSETNX', P .. 'settings', 'version', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', P .. 'settings', ARGV[i], ARGV[i + 1]) end
return redis.call('HGETALL', P .. 'settings')
`;

/**
 * Adds jobs. ARGV: delay (ms), then triples (has key '1'/'0', key, payload).
 * Returns the new ids in order, 0 where the key existed.
 */
const PUT = `
local now = nowMs()
local delay = tonumber(ARGV[1])
local ids = {}
local added = {}
for i = 2, #ARGV, 3 do
  local hasKey = ARGV[i] == '1'
  local key = ARGV[i + 1]
  if hasKey and redis.call('HEXISTS', P .. 'keys', key) == 1 then
    ids[#ids + 1] = 0
  else
    local id = redis.call('INCR', P .. 'seq')
    local jk = jobKey(id)
    redis.call('HSET', jk, 'p', ARGV[i + 2], 'a', 0, 'c', now)
    if hasKey then
      redis.call('HSET', jk, 'k', key)
      redis.call('HSET', P .. 'keys', key, id)
    end
    added[#added + 1] = now + delay
    added[#added + 1] = member(id)
    ids[#ids + 1] = id
  end
end
zaddMany(P .. 'pending', added)
if #added > 0 and delay == 0 then wake() end
return ids
`;

/**
 * Reclaims expired leases (back to pending at their expiry time, or to the failed list after the
 * last attempt), then leases up to ARGV[1] ready jobs for ARGV[2] ms; ARGV[3] = maxAttempts,
 * ARGV[4] = a random nonce: lease i of this call gets the token nonce..':'..i.
 * Returns {now, expiry, next, (id, attempt, token, payload, key)*}; `next` is, when nothing was
 * leased, the earliest ready time or lease expiry (ms), -1 when there is none.
 */
const TAKE = `
local now = nowMs()
local maxAttempts = tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', P .. 'leased', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1000)
for i = 1, #expired, 2 do
  local m = expired[i]
  local jk = jobKey(m)
  redis.call('ZREM', P .. 'leased', m)
  local attempt = tonumber(redis.call('HGET', jk, 'a')) or 0
  if attempt >= maxAttempts then
    redis.call('ZADD', P .. 'failed', tonumber(m), m)
    redis.call('HSET', jk, 'f', now, 'e', 'the lease of attempt ' .. attempt .. ' expired: the worker died, stalled or was stopped')
  else
    redis.call('ZADD', P .. 'pending', expired[i + 1], m)
  end
end
local ready = redis.call('ZRANGEBYSCORE', P .. 'pending', '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local expires = now + tonumber(ARGV[2])
local out = {now, expires, -1}
if #ready == 0 then
  local first = redis.call('ZRANGE', P .. 'pending', 0, 0, 'WITHSCORES')
  local lease = redis.call('ZRANGE', P .. 'leased', 0, 0, 'WITHSCORES')
  if first[2] then out[3] = tonumber(first[2]) end
  if lease[2] and (out[3] < 0 or tonumber(lease[2]) < out[3]) then out[3] = tonumber(lease[2]) end
  return out
end
zremMany(P .. 'pending', ready)
local leases = {}
for i, m in ipairs(ready) do
  local jk = jobKey(m)
  local token = ARGV[4] .. ':' .. i
  local fields = redis.call('HMGET', jk, 'a', 'p', 'k')
  local attempt = (tonumber(fields[1]) or 0) + 1
  redis.call('HSET', jk, 'a', attempt, 't', token)
  leases[#leases + 1] = expires
  leases[#leases + 1] = m
  out[#out + 1] = tonumber(m)
  out[#out + 1] = attempt
  out[#out + 1] = token
  out[#out + 1] = fields[2]
  out[#out + 1] = fields[3]
end
zaddMany(P .. 'leased', leases)
return out
`;

/**
 * Acks jobs and stores their results. ARGV: quadruples (id, token, result field or '', value).
 * Returns 1 (acked) or 0 (lease lost) per job. Idempotent: a job already done under the same
 * token counts as acked (its result is not written again).
 */
const ACK = `
local now = nowMs()
local out = {}
local acked = {}
local finished = {}
local seen = {}
for i = 1, #ARGV, 4 do
  local id = ARGV[i]
  if not seen[id] and fenced(id, ARGV[i + 1]) then
    seen[id] = true
    local m = member(id)
    local jk = jobKey(id)
    acked[#acked + 1] = m
    finished[#finished + 1] = now
    finished[#finished + 1] = m
    redis.call('HDEL', jk, 'p', 'e')
    redis.call('HSET', jk, 'f', now)
    local field = ARGV[i + 2]
    if field ~= '' then
      if redis.call('HSET', P .. 'results', field, ARGV[i + 3]) == 1 then
        redis.call('ZADD', P .. 'results:order', redis.call('INCR', P .. 'results:seq'), field)
      end
    end
    out[#out + 1] = 1
  elseif redis.call('ZSCORE', P .. 'done', member(id)) and redis.call('HGET', jobKey(id), 't') == ARGV[i + 1] then
    -- Done under this very lease (only its holder could ack it): a call re-sent after a reconnection.
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
zremMany(P .. 'leased', acked)
zaddMany(P .. 'done', finished)
return out
`;

/**
 * Records a failure. ARGV: id, token, final ('1': to the failed list), retry delay (ms), error.
 * Returns 1, or 0 when the lease was lost. Idempotent (see the `s` field).
 */
const FAIL = `
local id = ARGV[1]
local jk = jobKey(id)
if not fenced(id, ARGV[2]) then
  -- Settled by this very lease already: a call re-sent after a reconnection.
  if redis.call('HGET', jk, 's') == ARGV[2] then return 1 end
  return 0
end
local now = nowMs()
local m = member(id)
redis.call('ZREM', P .. 'leased', m)
redis.call('HSET', jk, 's', ARGV[2])
if ARGV[3] == '1' then
  redis.call('ZADD', P .. 'failed', tonumber(id), m)
  redis.call('HSET', jk, 'e', ARGV[5], 'f', now)
else
  local delay = tonumber(ARGV[4])
  redis.call('ZADD', P .. 'pending', now + delay, m)
  redis.call('HSET', jk, 'e', ARGV[5])
  if delay == 0 then wake() end
end
return 1
`;

/**
 * Extends leases to ARGV[1] ms from now. ARGV: ms, then pairs (id, token).
 * Returns {expiry, (1 | 0)*} (0: lease lost).
 */
const EXTEND = `
local expires = nowMs() + tonumber(ARGV[1])
local out = {expires}
for i = 2, #ARGV, 2 do
  if fenced(ARGV[i], ARGV[i + 1]) then
    redis.call('ZADD', P .. 'leased', 'XX', expires, member(ARGV[i]))
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`;

/**
 * Gives leased jobs back to pending now, without counting the attempt. ARGV: pairs (id, token).
 * Returns 1 (released) or 0 (lease lost) per job. Idempotent (see the `s` field).
 */
const RELEASE = `
local now = nowMs()
local out = {}
local released = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if fenced(id, ARGV[i + 1]) then
    local m = member(id)
    redis.call('ZREM', P .. 'leased', m)
    redis.call('ZADD', P .. 'pending', now, m)
    redis.call('HINCRBY', jobKey(id), 'a', -1)
    redis.call('HSET', jobKey(id), 's', ARGV[i + 1])
    out[#out + 1] = 1
    released = released + 1
  elseif redis.call('HGET', jobKey(id), 's') == ARGV[i + 1] then
    out[#out + 1] = 1 -- released by this very lease already (a re-sent call)
  else
    out[#out + 1] = 0
  end
end
if released > 0 then wake() end
return out
`;

/**
 * Gives leased jobs back to pending now, without counting the attempt, named by (id, attempt)
 * instead of a token: for a supervisor whose worker process died holding them. ARGV: pairs (id,
 * attempt). A job settled, reclaimed or leased again (another attempt) since is left alone.
 * Returns the ids released.
 */
const RELEASE_BY_ID = `
local now = nowMs()
local out = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local m = member(id)
  local jk = jobKey(id)
  if redis.call('ZSCORE', P .. 'leased', m) and tonumber(redis.call('HGET', jk, 'a')) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', P .. 'leased', m)
    redis.call('ZADD', P .. 'pending', now, m)
    redis.call('HINCRBY', jk, 'a', -1)
    redis.call('HSET', jk, 's', redis.call('HGET', jk, 't'))
    out[#out + 1] = tonumber(id)
  end
end
if #out > 0 then wake() end
return out
`;

/** Why a lease was lost: {state, attempt, token} of job ARGV[1] (state 'gone' if purged). */
const LOOKUP = `
local m = member(ARGV[1])
local state = 'gone'
for _, name in ipairs({'pending', 'leased', 'done', 'failed'}) do
  if redis.call('ZSCORE', P .. name, m) then state = name end
end
local fields = redis.call('HMGET', jobKey(ARGV[1]), 'a', 't')
return {state, fields[1], fields[2]}
`;

/** {pending, leased, done, failed}: four ZCARDs, one atomic snapshot. */
const STATS = `
return {redis.call('ZCARD', P .. 'pending'), redis.call('ZCARD', P .. 'leased'),
  redis.call('ZCARD', P .. 'done'), redis.call('ZCARD', P .. 'failed')}
`;

/**
 * A page of the failed list: ARGV offset, count.
 * Returns (id, key, attempt, error, finished ms, payload)* in id order.
 */
const FAILED = `
local out = {}
local page = redis.call('ZRANGE', P .. 'failed', tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
for _, m in ipairs(page) do
  local f = redis.call('HMGET', jobKey(m), 'k', 'a', 'e', 'f', 'p')
  out[#out + 1] = tonumber(m)
  for j = 1, 5 do out[#out + 1] = f[j] end
end
return out
`;

/** Moves up to ARGV[1] failed jobs back to pending with attempt 0; returns how many. */
const RETRY_FAILED = `
local now = nowMs()
local page = redis.call('ZRANGE', P .. 'failed', 0, tonumber(ARGV[1]) - 1)
for _, m in ipairs(page) do
  local jk = jobKey(m)
  redis.call('ZREM', P .. 'failed', m)
  redis.call('HSET', jk, 'a', 0)
  redis.call('HDEL', jk, 'e', 'f')
  redis.call('ZADD', P .. 'pending', now, m)
end
if #page > 0 then wake() end
return #page
`;

/**
 * Deletes up to ARGV[2] done jobs finished at least ARGV[1] ms ago, forgetting their keys;
 * returns how many.
 */
const PURGE_DONE = `
local page = redis.call('ZRANGEBYSCORE', P .. 'done', '-inf', nowMs() - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(page) do
  local jk = jobKey(m)
  local key = redis.call('HGET', jk, 'k')
  if key then redis.call('HDEL', P .. 'keys', key) end
  redis.call('DEL', jk)
  redis.call('ZREM', P .. 'done', m)
end
return #page
`;

/**
 * The scripts of an insertion-ordered map: hash `base` (field -> value), zset `base:order` (field
 * -> insertion number from the counter `base:seq`). The queue's results use base `results`;
 * RedisIndex uses the same scripts on its own keys. Bodies only: the caller adds what defines `P`.
 */
export function mapScripts(base: string) {
  const H = `P .. '${base}'`;
  const ORDER = `P .. '${base}:order'`;
  return {
    /** Set ARGV[1] = ARGV[2] (a new field goes to the end of the order). */
    resultSet: `
if redis.call('HSET', ${H}, ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', ${ORDER}, redis.call('INCR', P .. '${base}:seq'), ARGV[1])
end
return 1
`,
    /** Delete ARGV[1]; returns 1 if it was there. */
    resultDelete: `
redis.call('ZREM', ${ORDER}, ARGV[1])
return redis.call('HDEL', ${H}, ARGV[1])
`,
    /** One value (ARGV[1] = 'get'), existence ('has') or the count ('size'). */
    resultRead: `
if ARGV[1] == 'get' then return redis.call('HGET', ${H}, ARGV[2]) end
if ARGV[1] == 'has' then return redis.call('HEXISTS', ${H}, ARGV[2]) end
return redis.call('HLEN', ${H})
`,
    /**
     * A page in insertion order after insertion number ARGV[1] (exclusive), at most ARGV[2], with
     * values when ARGV[3] = '1'. Returns (field, number, value?)*.
     */
    resultPage: `
local page = redis.call('ZRANGEBYSCORE', ${ORDER}, '(' .. ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #page, 2 do
  out[#out + 1] = page[i]
  out[#out + 1] = page[i + 1]
  if ARGV[3] == '1' then out[#out + 1] = redis.call('HGET', ${H}, page[i]) end
end
return out
`,
  };
}

/** The names of the map scripts (see `mapScripts`). */
export type MapScriptName = keyof ReturnType<typeof mapScripts>;

/** Every script, by name, with the prelude. */
export const SCRIPTS = {
  init: INIT,
  put: PUT,
  take: TAKE,
  ack: ACK,
  fail: FAIL,
  extend: EXTEND,
  release: RELEASE,
  releaseById: RELEASE_BY_ID,
  lookup: LOOKUP,
  stats: STATS,
  failed: FAILED,
  retryFailed: RETRY_FAILED,
  purgeDone: PURGE_DONE,
  ...mapScripts('results'),
} as const;

export type ScriptName = keyof typeof SCRIPTS;

const FULL_TEXTS = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, body]) => [name, PRELUDE + body]),
) as Record<ScriptName, string>;

/** The full text of a script (prelude included); the same string object at every call. */
export function scriptText(name: ScriptName): string {
  return FULL_TEXTS[name];
}
