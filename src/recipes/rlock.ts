/**
 * RLock: a re-entrant cross-process lock. The entry stores `[owner, count]` (diskcache stores
 * `('pid-threadid', count)`); the owner here is an *async context*, not a whole process or thread,
 * because one Node thread runs many tasks at once. This file must not keep lock state anywhere but
 * in the cache, except the bookkeeping that `await using` needs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { NotOwnedError } from '../cache/errors.js';
import { CacheLock } from './cache-lock.js';
import { ownerToken, readPair } from './options.js';
import type { AcquireOptions, LockOptions, RecipeCache } from './types.js';

/** An owner context: its id, and the ids of the contexts it was started in (which it may act for). */
interface OwnerContext {
  readonly id: string;
  readonly lineage: ReadonlySet<string>;
}

/** One storage for every RLock: a context that holds lock A may also hold lock B. */
const owners = new AsyncLocalStorage<OwnerContext>();

function childContext(parent: OwnerContext | undefined): OwnerContext {
  const id = ownerToken();
  return { id, lineage: new Set(parent ? [id, ...parent.lineage] : [id]) };
}

type Stored = readonly [owner: string, count: number];

const RETRY = { retry: true } as const;

const readStored = (value: unknown) => readPair<Stored>(value, 'string', 'number');

/**
 * A re-entrant cross-process lock: the owner may take it again without waiting, and it is free
 * once every acquire has been matched by a release.
 *
 * Who the owner is: `rlock.run(fn)` runs `fn` in a new *owner context* (an `AsyncLocalStorage`
 * context) that everything `fn` awaits or starts belongs to; inside it, `acquire()`/`release()` and
 * nested `run()` calls of any RLock re-enter. Two `run()` calls that are not nested in each other
 * are different owners, even in one process, so two concurrent tasks never share the lock. A nested
 * `run()` acts for its enclosing owner; its concurrent siblings exclude each other.
 * Outside any owner context each `acquire()` is a new owner (it cannot re-enter) and `release()`
 * releases this object's latest such hold: JavaScript has no "current task" to find otherwise.
 *
 * Not guaranteed: fairness; a hold that outlives `expire` is lost (each acquire restarts `expire`).
 * The value format (`[owner, count]`, serialized) is not the one Python's diskcache RLock reads.
 *
 * @example
 * const rlock = new RLock(cache, 'tree', { expire: 30 });
 * async function visit(node) {
 *   return rlock.run(async () => { for (const child of node.children) await visit(child); });
 * }
 */
export class RLock extends CacheLock {
  /** Holds taken outside any owner context, latest last. */
  readonly #contextless: string[] = [];
  /** How many holds this object took per owner id (for `await using` only). */
  readonly #held = new Map<string, number>();

  constructor(cache: RecipeCache, key: unknown, options?: LockOptions) {
    super('RLock', cache, key, options);
  }

  tryAcquire(): boolean {
    const context = owners.getStore();
    return this.#took(context, this.cache.transact(this.#take(context), RETRY));
  }

  async tryAcquireAsync(): Promise<boolean> {
    const context = owners.getStore();
    return this.#took(context, await this.cache.async.transact(this.#take(context), RETRY));
  }

  /** The transaction that takes (or re-enters) the lock: the owner, or undefined when held. */
  #take(context: OwnerContext | undefined): () => string | undefined {
    const fresh = context?.id ?? ownerToken();
    return () => {
      const stored = readStored(this.cache.get(this.key, RETRY));
      let next: Stored;
      if (stored === undefined || stored[1] <= 0) next = [fresh, 1];
      else if (context?.lineage.has(stored[0])) next = [stored[0], stored[1] + 1];
      else return undefined;
      this.cache.set(this.key, next, { expire: this.expire, tag: this.tag, retry: true });
      return next[0];
    };
  }

  #took(context: OwnerContext | undefined, owner: string | undefined): boolean {
    if (owner === undefined) return false;
    if (context === undefined) this.#contextless.push(owner);
    this.#held.set(owner, (this.#held.get(owner) ?? 0) + 1);
    return true;
  }

  /**
   * Undoes one acquire of the current owner; the lock is free when the count reaches 0.
   * @throws NotOwnedError when the current owner context (or, outside any, this object) does not
   * hold the lock: another task or process holds it, nobody does, or the hold expired.
   */
  release(): void {
    const context = owners.getStore();
    const mine = this.#mine(context);
    this.#released(context, mine, this.cache.transact(this.#give(mine), RETRY));
  }

  /** `release()` without blocking the event loop on a busy database. */
  async releaseAsync(): Promise<void> {
    const context = owners.getStore();
    const mine = this.#mine(context);
    this.#released(context, mine, await this.cache.async.transact(this.#give(mine), RETRY));
  }

  #mine(context: OwnerContext | undefined): ReadonlySet<string> {
    return context?.lineage ?? new Set(this.#contextless.slice(-1));
  }

  /** The transaction that undoes one acquire of an owner in `mine`. */
  #give(mine: ReadonlySet<string>): () => { owner: string; count: number } | undefined {
    return () => {
      const stored = readStored(this.cache.get(this.key, RETRY));
      if (stored === undefined || stored[1] <= 0 || !mine.has(stored[0])) return undefined;
      const count = stored[1] - 1;
      if (count === 0) this.cache.delete(this.key, RETRY);
      else
        this.cache.set(this.key, [stored[0], count], {
          expire: this.expire,
          tag: this.tag,
          retry: true,
        });
      return { owner: stored[0], count };
    };
  }

  #released(
    context: OwnerContext | undefined,
    mine: ReadonlySet<string>,
    result: { owner: string; count: number } | undefined,
  ): void {
    if (result === undefined) {
      for (const owner of mine) this.#forget(owner, Number.POSITIVE_INFINITY); // an expired hold is gone for good
      throw new NotOwnedError(
        `${this.what} is not held by the current ${context ? 'owner context' : 'caller (no owner context)'}`,
      );
    }
    this.#forget(result.owner, 1);
    if (result.count === 0) this.wakeWaiter();
  }

  locked(): boolean {
    return this.cache.has(this.key);
  }

  /**
   * Runs `fn` in a new owner context while holding the lock (re-entering if an enclosing context
   * holds it) and releases it afterwards.
   */
  override run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<T> {
    return owners.run(childContext(owners.getStore()), () => super.run(fn, options));
  }

  protected holdsHere(): boolean {
    const context = owners.getStore();
    if (context === undefined) return this.#contextless.length > 0;
    for (const owner of context.lineage) if (this.#held.has(owner)) return true;
    return false;
  }

  #forget(owner: string, holds: number): void {
    const left = (this.#held.get(owner) ?? 0) - holds;
    if (left > 0) {
      this.#held.set(owner, left);
      return;
    }
    this.#held.delete(owner);
    const index = this.#contextless.lastIndexOf(owner);
    if (index >= 0) this.#contextless.splice(index, 1);
  }
}
