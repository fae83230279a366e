/**
 * node-diskcache/redis: the Redis backend. Importing this subpath loads ioredis only when a queue
 * connects through a `redis://` locator; the package root never imports this file statically
 * (`openQueue` loads it on demand).
 */
export {
  describeRedisTrouble,
  isRedisLocator,
  parseRedisLocator,
  type RedisLike,
  type RedisLocator,
} from './redis-client.js';
export { RedisDeque, type RedisDequeOptions } from './redis-deque.js';
export type { RedisTarget } from './redis-handle.js';
export { RedisIndex, type RedisIndexKey } from './redis-index.js';
export {
  RedisLock,
  type RedisLockOptions,
  RedisThrottle,
  type RedisThrottleOptions,
  redisThrottle,
} from './redis-lock.js';
export {
  REDIS_SCHEMA_VERSION,
  type RedisQueueTarget,
  RedisWorkQueue,
  type RedisWorkQueueOptions,
} from './redis-work-queue.js';
