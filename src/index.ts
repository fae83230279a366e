/**
 * node-diskcache: the one barrel. Everything public is exported here and nowhere else.
 */
export { Cache } from './cache/cache.js';
export { Disk, JSONDisk, ForeignKey, type DbValue, type StoredValue } from './cache/disk.js';
export {
  AbortError,
  DatabaseError,
  DiskcacheError,
  IndexError,
  KeyError,
  LeaseLostError,
  NotOwnedError,
  Timeout,
  UnsupportedValueError,
} from './cache/errors.js';
export type { Memoized } from './cache/memoize.js';
export { DEFAULT_SETTINGS, type SettingValue } from './cache/schema.js';
export type {
  CacheOptions,
  CheckWarning,
  DiskClass,
  DiskOptions,
  Entry,
  EvictionPolicy,
  GetOptions,
  Key,
  MemoizeOptions,
  NativeKey,
  QueueOptions,
  SetOptions,
  SqliteOptions,
  Tag,
} from './cache/types.js';
export { FanoutCache, type FanoutCacheOptions } from './collections/fanout-cache.js';
export { Deque, type DequeOptions } from './collections/deque.js';
export { Index, type IndexMemoizeOptions, type IndexQueueOptions } from './collections/index.js';
export { ValueError } from './cache/errors.js';
export { Averager, type AveragerOptions } from './recipes/averager.js';
export { barrier, type BarrierOptions, type Barriered, type LockFactory } from './recipes/barrier.js';
export { CacheLock, type Acquirable } from './recipes/cache-lock.js';
export { Lock } from './recipes/lock.js';
export { memoizeStampede, type MemoizeStampedeOptions, type Stampeded } from './recipes/memoize-stampede.js';
export { RLock } from './recipes/rlock.js';
export { BoundedSemaphore, type BoundedSemaphoreOptions } from './recipes/semaphore.js';
export { throttle, type ThrottleOptions, type Throttled } from './recipes/throttle.js';
export type { AcquireOptions, LockOptions, RecipeCache } from './recipes/types.js';
export { HandlerModuleError } from './cache/errors.js';
export {
  type AckItem,
  type FailedJob,
  type FailOptions,
  type FailOutcome,
  Job,
  type NextOptions,
  type PutManyOptions,
  type PutOptions,
  type TakeOptions,
  WorkQueue,
  type WorkQueueOptions,
  type WorkQueueStats,
} from './collections/work-queue.js';
export type { HandlerModule, JobContext, JobHandler } from './runner/handler.js';
export { createProgressReporter, type ProgressReporter, type ProgressStream, type RunProgress } from './runner/progress.js';
export { type RunnerEvent, type RunSummary, runWorkers, type RunWorkersOptions } from './runner/run-workers.js';
export type { WorkerCounts } from './runner/worker-loop.js';
