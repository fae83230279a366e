/**
 * memoize: the cache-key construction and the wrapper behind `cache.memoize()`, shared by Cache,
 * FanoutCache and Index (anything with get/set). Sync functions are memoized synchronously; async
 * functions (or functions that return a promise) get one shared computation per key per process.
 */
import { encodeStructuredKey } from './disk.js';
import type { MemoizeOptions, Tag } from './types.js';

/** What memoize needs of a cache. */
export interface MemoizeTarget {
  get(key: unknown, options: { default: unknown; retry: boolean }): unknown;
  set(
    key: unknown,
    value: unknown,
    options: { expire?: number | null; tag?: Tag; retry: boolean },
  ): boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: a memoized function keeps the caller's exact signature.
type AnyFunction = (...args: any[]) => unknown;

/** A memoized function: the same signature, plus `cacheKey(...args)`. */
export type Memoized<F extends AnyFunction> = F & {
  /** The cache key a call with these arguments reads and writes. */
  cacheKey(...args: Parameters<F>): unknown[];
};

const MISS = Symbol('miss');

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'array';
  if (Buffer.isBuffer(value)) return 'Buffer';
  return (Object.getPrototypeOf(value)?.constructor?.name as string | undefined) ?? 'object';
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** Validates memoize options; throws `TypeError` when used as `memoize(fn)` instead of `memoize()(fn)`. */
export function checkMemoizeOptions(options: unknown): MemoizeOptions {
  if (typeof options === 'function') {
    throw new TypeError(
      'memoize takes options, not the function: write cache.memoize()(fn) or cache.memoize({ name })(fn)',
    );
  }
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object')
    throw new TypeError(`memoize options must be an object, got ${String(options)}`);
  const { expire, name } = options as MemoizeOptions;
  if (
    expire !== undefined &&
    expire !== null &&
    (typeof expire !== 'number' || Number.isNaN(expire))
  ) {
    throw new TypeError(`memoize option expire must be a number of seconds, got ${String(expire)}`);
  }
  if (name !== undefined && typeof name !== 'string')
    throw new TypeError(`memoize option name must be a string, got ${String(name)}`);
  return options as MemoizeOptions;
}

/** Builds the key function of a memoized function: `[name, ...args, null, ...types]`. */
export function makeKeyFunction(
  fn: AnyFunction,
  options: MemoizeOptions,
): (args: unknown[]) => unknown[] {
  const name = options.name ?? fn.name;
  if (!name)
    throw new TypeError(
      'memoize: the function has no name; pass { name } so that its cache key is stable',
    );
  const ignore = new Set(options.ignore ?? []);
  const typed = options.typed ?? false;
  return (args) => {
    let end = args.length;
    while (end > 0 && args[end - 1] === undefined) end--; // f(a) and f(a, undefined) are one call
    const kept: unknown[] = [];
    for (let i = 0; i < end; i++) {
      if (ignore.has(i)) continue;
      if (args[i] === undefined)
        throw new TypeError(
          `memoize: argument ${i} of ${name} is undefined, which cannot be part of a key; pass null`,
        );
      kept.push(args[i]);
    }
    const key: unknown[] = [name, ...kept, null];
    if (typed) for (const value of kept) key.push(typeName(value));
    return key;
  };
}

/** Wraps `fn` so that its results are kept in `target`. */
export function memoizeFunction<F extends AnyFunction>(
  target: MemoizeTarget,
  options: MemoizeOptions,
  fn: F,
): Memoized<F> {
  if (typeof fn !== 'function')
    throw new TypeError(`memoize(...)(fn): fn must be a function, got ${typeof fn}`);
  const keyOf = makeKeyFunction(fn, options);
  const store = options.expire === undefined || options.expire === null || options.expire > 0;
  const setOptions = { expire: options.expire ?? null, tag: options.tag ?? null, retry: true };
  const getOptions = { default: MISS, retry: true };
  let isAsync = fn.constructor?.name === 'AsyncFunction';
  const inflight = new Map<string, Promise<unknown>>();

  const remember = (key: unknown[], value: unknown) => {
    if (store && value !== undefined) target.set(key, value, setOptions);
  };
  const shared = (key: unknown[], compute: () => unknown): Promise<unknown> => {
    const id = encodeStructuredKey(key).toString('latin1');
    const running = inflight.get(id);
    if (running) return running;
    const promise = (async () => {
      try {
        const value = await compute();
        remember(key, value);
        return value;
      } finally {
        inflight.delete(id);
      }
    })();
    inflight.set(id, promise);
    return promise;
  };

  const wrapper = function (this: unknown, ...args: unknown[]) {
    const key = keyOf(args);
    const cached = target.get(key, getOptions);
    if (cached !== MISS) return isAsync ? Promise.resolve(cached) : cached;
    if (isAsync) return shared(key, () => fn.apply(this, args));
    const result = fn.apply(this, args);
    if (isThenable(result)) {
      isAsync = true;
      return shared(key, () => result);
    }
    remember(key, result);
    return result;
  } as Memoized<F>;
  Object.defineProperty(wrapper, 'name', { value: fn.name });
  wrapper.cacheKey = (...args: unknown[]) => keyOf(args);
  return wrapper;
}
