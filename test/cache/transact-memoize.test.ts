/**
 * transact() (atomicity seen from a second connection, rollback of rows and of value files,
 * re-entrancy, async functions refused) and memoize() (sync and async, key construction,
 * typed/ignore/expire/tag, exceptions and undefined not cached).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { filesUnder, openCache, storedRows } from '../fixtures/cache-test-kit.js';

describe('transact', () => {
  it('returns the result; other connections see all writes at commit, none before', () => {
    const cache = openCache();
    const other = openCache(undefined, cache.directory);
    cache.set('a', 0);
    const result = cache.transact(() => {
      cache.set('a', 1);
      cache.set('b', 2);
      cache.incr('n');
      cache.delete('missing');
      expect(other.get('a')).toBe(0);
      expect(other.has('b')).toBe(false);
      expect(cache.get('b')).toBe(2); // its own writes are visible inside
      return 'done';
    });
    expect(result).toBe('done');
    expect([other.get('a'), other.get('b'), other.get('n')]).toEqual([1, 2, 1]);
  });

  it('rolls back every write when fn throws, and rethrows the same error', () => {
    const cache = openCache();
    cache.set('a', 'before');
    const failure = new Error('boom');
    expect(() =>
      cache.transact(() => {
        cache.set('a', 'inside');
        cache.set('b', 'inside');
        cache.push('queued');
        throw failure;
      }),
    ).toThrow(failure);
    expect(cache.get('a')).toBe('before');
    expect(cache.has('b')).toBe(false);
    expect(cache.size).toBe(1);
    // The cache is usable afterwards and commits normally.
    cache.set('c', 3);
    expect(openCache(undefined, cache.directory).get('c')).toBe(3);
  });

  it('a rollback deletes value files written inside and keeps the files of restored rows', () => {
    const cache = openCache({ minFileSize: 100 });
    cache.set('kept', 'k'.repeat(500));
    const keptFile = storedRows(cache.directory)[0]!.filename!;
    expect(() =>
      cache.transact(() => {
        cache.set('new', 'n'.repeat(500));
        cache.set('kept', 'o'.repeat(500)); // replaces kept's file... until the rollback
        cache.delete('kept');
        cache.add('added', 'a'.repeat(500));
        cache.push('p'.repeat(500));
        expect(filesUnder(cache.directory)).toHaveLength(5);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(filesUnder(cache.directory)).toEqual([keptFile]);
    expect(cache.get('kept')).toBe('k'.repeat(500));
    expect(cache.check()).toEqual([]);
  });

  it('files of deleted or replaced entries are removed only after the commit', () => {
    const cache = openCache({ minFileSize: 100 });
    cache.set('big', 'b'.repeat(500));
    const file = path.join(cache.directory, storedRows(cache.directory)[0]!.filename!);
    cache.transact(() => {
      cache.delete('big');
      // Still there: a reader holding the old snapshot may be about to open it.
      expect(fs.existsSync(file)).toBe(true);
    });
    expect(fs.existsSync(file)).toBe(false);
    expect(filesUnder(cache.directory)).toEqual([]);
  });

  it('is re-entrant: nested blocks commit with the outermost', () => {
    const cache = openCache();
    const other = openCache(undefined, cache.directory);
    const value = cache.transact(() => {
      cache.set('outer', 1);
      const inner = cache.transact(() => {
        cache.set('inner', 2);
        return cache.transact(() => cache.incr('n', 5));
      });
      expect(other.has('inner')).toBe(false);
      return inner;
    });
    expect(value).toBe(5);
    expect([other.get('outer'), other.get('inner'), other.get('n')]).toEqual([1, 2, 5]);
  });

  it('an error thrown by a nested block rolls back the whole transaction', () => {
    const cache = openCache();
    expect(() =>
      cache.transact(() => {
        cache.set('outer', 1);
        cache.transact(() => {
          cache.set('inner', 2);
          throw new Error('inner failure');
        });
      }),
    ).toThrow('inner failure');
    expect(cache.size).toBe(0);
  });

  it('refuses an async fn (and any promise result) and rolls back what it did synchronously', async () => {
    const cache = openCache();
    let resume!: () => void;
    const gate = new Promise<void>((resolve) => {
      resume = resolve;
    });
    expect(() =>
      cache.transact(async () => {
        cache.set('sync part', 1);
        await gate;
      }),
    ).toThrow(/synchronous/);
    expect(cache.has('sync part')).toBe(false);
    expect(() => cache.transact(() => Promise.resolve(1))).toThrow(TypeError);
    resume();
    await gate;
    cache.set('after', 1);
    expect(cache.size).toBe(1);
    expect(() => cache.transact('not a function' as never)).toThrow(TypeError);
  });
});

describe('memoize', () => {
  it('calls a sync function once per distinct arguments', () => {
    const cache = openCache();
    const calls = vi.fn((a: number, b: string) => `${a}:${b}`);
    const memoized = cache.memoize()(function join(a: number, b: string) {
      return calls(a, b);
    });
    expect(memoized(1, 'x')).toBe('1:x');
    expect(memoized(1, 'x')).toBe('1:x');
    expect(memoized(2, 'x')).toBe('2:x');
    expect(calls).toHaveBeenCalledTimes(2);
    expect(memoized.name).toBe('join');
    // Results live in the cache under cacheKey(...): another opener sees them.
    expect(memoized.cacheKey(1, 'x')).toEqual(['join', 1, 'x', null]);
    expect(openCache(undefined, cache.directory).get(memoized.cacheKey(2, 'x'))).toBe('2:x');
  });

  it('counts hits and misses in stats, like diskcache', () => {
    const cache = openCache({ statistics: true });
    const fib = cache.memoize({ name: 'fib' })((n: number): number =>
      n < 2 ? n : fib(n - 1) + fib(n - 2),
    );
    expect(fib(20)).toBe(6765);
    expect(cache.stats()).toEqual({ hits: 18, misses: 21 });
  });

  it('name, this, structured arguments and cached null', () => {
    const cache = openCache();
    const calls = vi.fn();
    const counter = {
      base: 10,
      add: cache.memoize({ name: 'add' })(function (
        this: { base: number },
        options: { x: number; y?: number[] },
      ) {
        calls();
        return options.x === 0 ? null : this.base + options.x;
      }),
    };
    expect(counter.add({ x: 1, y: [1] })).toBe(11);
    expect(counter.add({ y: [1], x: 1 })).toBe(11);
    expect(counter.add({ x: 0 })).toBeNull();
    expect(counter.add({ x: 0 })).toBeNull();
    expect(calls).toHaveBeenCalledTimes(2);
    expect(counter.add.cacheKey({ x: 1 })).toEqual(['add', { x: 1 }, null]);
  });

  it('f(a) and f(a, undefined) are one call; an undefined in the middle is refused', () => {
    const cache = openCache();
    const memoized = cache.memoize({ name: 'opt' })(
      (a: number, b?: number, c?: number) => a + (b ?? 0) + (c ?? 0),
    );
    expect(memoized.cacheKey(1)).toEqual(memoized.cacheKey(1, undefined));
    expect(() => memoized(1, undefined, 3)).toThrow(/undefined/);
  });

  it('typed: arguments of different types are different keys', () => {
    const cache = openCache();
    const calls = vi.fn();
    const untyped = cache.memoize({ name: 'length' })((bytes: Uint8Array) => {
      calls();
      return bytes.length;
    });
    const typed = cache.memoize({ name: 'typedLength', typed: true })((bytes: Uint8Array) => {
      calls();
      return bytes.length;
    });
    untyped(Buffer.from('ab'));
    untyped(new Uint8Array([97, 98]));
    expect(calls).toHaveBeenCalledTimes(1);
    typed(Buffer.from('ab'));
    typed(new Uint8Array([97, 98]));
    expect(calls).toHaveBeenCalledTimes(3);
    expect(typed.cacheKey(Buffer.from('ab'))).toEqual([
      'typedLength',
      Buffer.from('ab'),
      null,
      'Buffer',
    ]);
  });

  it('ignore leaves argument positions out of the key', () => {
    const cache = openCache();
    const calls = vi.fn();
    const fetchPage = cache.memoize({ name: 'fetchPage', ignore: [1] })(
      (url: string, logger: string) => {
        calls(logger);
        return url.length;
      },
    );
    fetchPage('https://a', 'logger 1');
    fetchPage('https://a', 'logger 2');
    expect(calls).toHaveBeenCalledTimes(1);
    expect(fetchPage.cacheKey('https://a', 'anything')).toEqual(['fetchPage', 'https://a', null]);
  });

  it('expire and tag are applied; expire <= 0 only looks up', () => {
    const cache = openCache();
    const calls = vi.fn((n: number) => n * 2);
    const double = cache.memoize({ name: 'double', expire: 60, tag: 'math' })(calls);
    double(4);
    const entry = cache.getEntry(double.cacheKey(4));
    expect(entry?.value).toBe(8);
    expect(entry?.tag).toBe('math');
    expect(entry?.expireTime).toBeGreaterThan(Date.now() / 1000 + 59);
    expect(cache.evict('math')).toBe(1);
    double(4);
    expect(calls).toHaveBeenCalledTimes(2);

    const lookupOnly = cache.memoize({ name: 'double', expire: 0 })(calls);
    expect(lookupOnly(4)).toBe(8); // found the result stored by `double`
    expect(calls).toHaveBeenCalledTimes(2);
    expect(lookupOnly(5)).toBe(10);
    expect(lookupOnly(5)).toBe(10);
    expect(calls).toHaveBeenCalledTimes(4);
    expect(cache.has(double.cacheKey(5))).toBe(false);
  });

  it('an expired result is computed again', () => {
    const cache = openCache();
    const calls = vi.fn((n: number) => n);
    const stale = cache.memoize({ name: 'stale', expire: -1 })(calls);
    stale(1);
    stale(1);
    expect(calls).toHaveBeenCalledTimes(2);
  });

  it('exceptions and undefined results are not cached', () => {
    const cache = openCache();
    let fail = true;
    const flaky = cache.memoize({ name: 'flaky' })(() => {
      if (fail) throw new Error('flaky failure');
      return 'ok';
    });
    expect(() => flaky()).toThrow('flaky failure');
    expect(cache.size).toBe(0);
    fail = false;
    expect(flaky()).toBe('ok');
    const calls = vi.fn(() => undefined);
    const nothing = cache.memoize({ name: 'nothing' })(calls);
    nothing();
    nothing();
    expect(calls).toHaveBeenCalledTimes(2);
  });

  it('async: concurrent calls share one computation; the result is then cached', async () => {
    const cache = openCache();
    let release!: () => void;
    const started = vi.fn();
    const slow = cache.memoize({ name: 'slow' })(async (n: number) => {
      started(n);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return { n };
    });
    const calls = [slow(1), slow(1), slow(1)];
    expect(started).toHaveBeenCalledTimes(1);
    release();
    const results = await Promise.all(calls);
    expect(results).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }]);
    expect(await slow(1)).toEqual({ n: 1 });
    expect(started).toHaveBeenCalledTimes(1);
    expect(cache.get(slow.cacheKey(1))).toEqual({ n: 1 });
  });

  it('async: a rejection is shared by the waiting callers and not cached', async () => {
    const cache = openCache();
    let attempt = 0;
    const failing = cache.memoize({ name: 'failing' })(async () => {
      attempt += 1;
      await Promise.resolve();
      if (attempt === 1) throw new Error('first attempt fails');
      return attempt;
    });
    const [a, b] = [failing(), failing()];
    await expect(a).rejects.toThrow('first attempt fails');
    await expect(b).rejects.toThrow('first attempt fails');
    expect(await failing()).toBe(2);
    expect(await failing()).toBe(2);
    expect(attempt).toBe(2);
  });

  it('a plain function that returns a promise is treated as async', async () => {
    const cache = openCache();
    const calls = vi.fn((n: number) => Promise.resolve(n + 1));
    const viaPromise = cache.memoize({ name: 'viaPromise' })(calls);
    expect(await viaPromise(1)).toBe(2);
    expect(await viaPromise(1)).toBe(2);
    expect(calls).toHaveBeenCalledTimes(1);
  });

  it('bad use: memoize(fn), an anonymous function, bad options', () => {
    const cache = openCache();
    expect(() => cache.memoize((() => 1) as never)).toThrow(/memoize\(\)\(fn\)/);
    expect(() => cache.memoize()(() => 1)).toThrow(/name/);
    expect(() => cache.memoize({ expire: 'soon' as never })).toThrow(/expire.*soon/);
    expect(() => cache.memoize({ name: 5 as never })).toThrow(/name/);
    expect(() => cache.memoize()(42 as never)).toThrow(TypeError);
  });
});
