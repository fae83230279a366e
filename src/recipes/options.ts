/**
 * Argument checks and identities shared by the recipes: the cache-like object, `expire`/`tag`,
 * owner tokens (unique across hosts, processes, threads and time) and the in-process wake-up
 * channel of a key. It must stay free of waiting logic (wait.ts) and of any one recipe.
 */
import { hostname } from 'node:os';
import { checkOptionalSeconds } from '../cache/checks.js';
import { encodeStructuredKey } from '../cache/disk.js';
import type { Tag } from '../cache/types.js';
import type { LockOptions, RecipeCache } from './types.js';

const CACHE_METHODS = [
  'get',
  'getEntry',
  'set',
  'add',
  'delete',
  'pop',
  'has',
  'transact',
] as const;

/** Throws `TypeError` unless `cache` has the methods the recipes call. */
export function checkCache(cache: unknown, where: string): RecipeCache {
  if (cache === null || typeof cache !== 'object')
    throw new TypeError(`${where}: cache must be a Cache or FanoutCache, got ${String(cache)}`);
  const view = (cache as { async?: unknown }).async;
  if (view === null || typeof view !== 'object')
    throw new TypeError(
      `${where}: cache must be a Cache or FanoutCache (it has no .async view for waiting without blocking)`,
    );
  for (const method of CACHE_METHODS) {
    if (typeof (cache as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(
        `${where}: cache must be a Cache or FanoutCache (it has no ${method}() method)`,
      );
    }
  }
  return cache as RecipeCache;
}

/** The validated `{expire, tag}` of a recipe. */
export interface CheckedLockOptions {
  readonly expire: number | null;
  readonly tag: Tag;
}

/** Validates `{expire, tag}` (the tag's type is left to the cache, which checks it on write). */
export function checkLockOptions(
  options: LockOptions | undefined,
  where: string,
): CheckedLockOptions {
  if (options === undefined || options === null) return { expire: null, tag: null };
  if (typeof options !== 'object')
    throw new TypeError(`${where}: options must be an object, got ${String(options)}`);
  return {
    expire: checkOptionalSeconds('expire', options.expire, { where, allowInfinity: true }),
    tag: options.tag ?? null,
  };
}

/**
 * This process and thread; the random part tells a reused pid from the one that died. Made at the
 * first token: node:crypto and node:worker_threads are loaded then, not by every process that
 * imports a recipe (a crawl worker with no rate limit never takes one).
 */
let processId: string | undefined;
let tokens = 0;

/** A token no other owner anywhere will ever hold: host/pid/thread/random/counter. */
export function ownerToken(): string {
  processId ??= `${hostname()}/${process.pid}/${process.getBuiltinModule('node:worker_threads').threadId}/${process.getBuiltinModule('node:crypto').randomBytes(4).toString('hex')}`;
  tokens += 1;
  return `${processId}/${tokens.toString(36)}`;
}

/** The wake-up channel of `key` in `cache`: shared by every recipe object on that key in this process. */
export function channelOf(cache: RecipeCache, key: unknown): string {
  return `${cache.directory}\u0000${encodeStructuredKey(key).toString('latin1')}`;
}

/**
 * `value` as a stored pair `[first, second]` whose items have the given `typeof`s, or undefined when
 * it is not one (missing, or an entry some other code wrote under the key).
 */
export function readPair<T extends readonly [unknown, unknown]>(
  value: unknown,
  first: string,
  second: string,
): T | undefined {
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== first ||
    typeof value[1] !== second
  )
    return undefined;
  return value as unknown as T;
}

/** A short description of a key for error messages. */
export function describeKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  try {
    return (
      JSON.stringify(key, (_name, value) => (typeof value === 'bigint' ? `${value}n` : value)) ??
      String(key)
    );
  } catch {
    return String(key);
  }
}
