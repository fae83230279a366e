/**
 * PersistentCollection: what Deque and Index share - the Cache they live in, opened with eviction
 * policy 'none' as diskcache opens it (or adopted through `fromCache`), `transact`, `close`.
 * It must not know the layout of either collection; each subclass owns its own.
 */
import { Cache } from '../cache/cache.js';
import { describeValue } from '../cache/errors.js';

/** The cache handed to the next collection constructor by `adopt` (fromCache), if any. */
let adopted: Cache | undefined;

/**
 * Runs `construct` so that the collection it creates lives in `cache` instead of opening its own.
 * @throws TypeError when `cache` is not a Cache.
 */
export function adopt<T>(cache: Cache, method: string, construct: () => T): T {
  if (!(cache instanceof Cache))
    throw new TypeError(`${method}(cache): cache must be a Cache, got ${describeValue(cache)}`);
  if (cache.closed) throw new TypeError(`${method}(cache): the cache is closed`);
  adopted = cache;
  try {
    return construct();
  } finally {
    adopted = undefined;
  }
}

/** Base class of Deque and Index: one Cache, shared by every process that opens the directory. */
export abstract class PersistentCollection implements Disposable {
  readonly #cache: Cache;
  /** Whether this object opened the cache (and so closes it). */
  readonly #owned: boolean;

  protected constructor(directory: string | undefined) {
    const cache = adopted;
    adopted = undefined;
    if (cache !== undefined) {
      this.#cache = cache;
      this.#owned = false;
    } else {
      // diskcache's Deque and Index never evict: policy 'none' (persisted, so Python agrees).
      this.#cache = new Cache(directory, { evictionPolicy: 'none' });
      this.#owned = true;
    }
  }

  /** The Cache that stores the collection. Other keys written to it become part of the collection. */
  get cache(): Cache {
    return this.#cache;
  }

  /** The directory of the cache (absolute). */
  get directory(): string {
    return this.#cache.directory;
  }

  /**
   * Runs `fn` inside one write transaction of the cache and returns its result: every operation on
   * this collection inside `fn` is atomic as a whole for other processes. Re-entrant; `fn` must be
   * synchronous; waits for the write lock as long as it takes.
   */
  transact<R>(fn: () => R): R {
    return this.#cache.transact(fn, { retry: true });
  }

  /**
   * Closes the cache if this object opened it (further operations then throw). A cache given to
   * `fromCache` stays open: its owner closes it.
   */
  close(): void {
    if (this.#owned) this.#cache.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
