/**
 * node-diskcache: the root barrel. Everything public is exported here, except the subpaths that
 * bring dependencies of their own: the crawler (`node-diskcache/crawler`, htmlparser2 and
 * robots-parser) and the Keyv adapter (`node-diskcache/keyv`). Importing this file loads neither.
 */
export { type AsyncCache, Cache } from './cache/cache.js';
export type { Seconds } from './cache/checks.js';
export {
  type DbValue,
  Disk,
  ForeignKey,
  JSONDisk,
  PickleDisk,
  type StoredValue,
  Undecodable,
} from './cache/disk.js';
export {
  AbortError,
  ClosedError,
  DatabaseError,
  DiskcacheError,
  HandlerModuleError,
  IndexError,
  JobTimeoutError,
  KeyError,
  LeaseLostError,
  NotOwnedError,
  QueueNotFoundError,
  ReadOnlyError,
  RetryLaterError,
  StorageFullError,
  Timeout,
  UnsupportedValueError,
  ValueError,
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
export {
  type AsyncAckItem,
  AsyncJob,
  type AsyncResults,
  type AsyncWorkQueue,
  type FailedListOptions,
  type LeaseId,
  type PurgeDoneOptions,
  type QueueSettings,
  type ResultKey,
} from './collections/async-work-queue.js';
export { type AsyncDeque, Deque, type DequeOptions, type PopOptions } from './collections/deque.js';
export {
  type AsyncFanoutCache,
  FanoutCache,
  type FanoutCacheOptions,
} from './collections/fanout-cache.js';
export {
  type AsyncIndex,
  Index,
  type IndexMemoizeOptions,
  type IndexQueueOptions,
} from './collections/index.js';
export { isRedisQueueLocator, type OpenQueueOptions, openQueue } from './collections/open-queue.js';
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
export { type AsyncAverager, Averager, type AveragerOptions } from './recipes/averager.js';
export {
  type Barriered,
  type BarrierOptions,
  barrier,
  type LockFactory,
} from './recipes/barrier.js';
export { type Acquirable, CacheLock } from './recipes/cache-lock.js';
export { Lock } from './recipes/lock.js';
export {
  type MemoizeStampedeOptions,
  memoizeStampede,
  type Stampeded,
} from './recipes/memoize-stampede.js';
export { RLock } from './recipes/rlock.js';
export { BoundedSemaphore, type BoundedSemaphoreOptions } from './recipes/semaphore.js';
export { type Throttled, type ThrottleOptions, throttle } from './recipes/throttle.js';
export type { AcquireOptions, LockOptions, RecipeCache } from './recipes/types.js';
export type { HandlerModule, JobContext, JobHandler, ResultTagger } from './runner/handler.js';
export {
  createProgressReporter,
  type ProgressReporter,
  type ProgressStream,
  type RunProgress,
} from './runner/progress.js';
export {
  type RunnerEvent,
  type RunSummary,
  type RunWorkersOptions,
  runWorkers,
} from './runner/run-workers.js';
export type { WorkerCounts } from './runner/worker-loop.js';
