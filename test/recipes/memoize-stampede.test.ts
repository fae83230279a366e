import { describe, expect, it } from 'vitest';
import { Cache, memoizeStampede } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { holdInChild, kill, startTogether } from './together.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every few ms until it is true (a test of eventual behaviour, not of speed). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await pause(5);
  }
  throw new Error(`never happened: ${what}`);
}

describe('memoizeStampede', () => {
  it('computes a cold key once for 50 concurrent callers of one process and stores [value, delta]', async () => {
    using cache = new Cache(tempDir('stampede'));
    let runs = 0;
    const load = memoizeStampede(cache, { expire: 60, tag: 'users' })(async function load(
      id: number,
    ) {
      runs++;
      await pause(20);
      return { id, name: `user ${id}` };
    });
    const results = await Promise.all(Array.from({ length: 50 }, () => load(7)));
    expect(runs).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toEqual({ id: 7, name: 'user 7' });
    const entry = cache.getEntry<[unknown, number]>(load.cacheKey(7));
    expect(entry?.value[0]).toEqual({ id: 7, name: 'user 7' });
    expect(entry?.value[1]).toBeGreaterThan(0); // seconds the computation took
    expect(entry?.tag).toBe('users');
    expect(entry?.expireTime).toBeGreaterThan(Date.now() / 1000 + 50);
    expect(await load(7)).toEqual({ id: 7, name: 'user 7' });
    expect(runs).toBe(1);
  });

  it('wraps sync functions too (always returns a Promise) and keys like cache.memoize', async () => {
    using cache = new Cache(tempDir('stampede'));
    let runs = 0;
    const square = memoizeStampede(cache, { expire: 60 })(function square(n: number) {
      runs++;
      return n * n;
    });
    const pending = square(4);
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toBe(16);
    expect(await square(4)).toBe(16);
    expect(await square(5)).toBe(25);
    expect(runs).toBe(2);
    expect(square.cacheKey(4)).toEqual(
      cache
        .memoize()(function square(n: number) {
          return n;
        })
        .cacheKey(4),
    );
    expect(square.cacheKey(4)).toEqual(['square', 4, null]);
    const typed = memoizeStampede(cache, { expire: 60, name: 'sq', typed: true, ignore: [1] })(
      (n: number, _log?: string) => n,
    );
    expect(typed.cacheKey(4, 'ignored')).toEqual(['sq', 4, null, 'number']);
  });

  it('does not cache exceptions: every sharer gets the error, the next call computes again', async () => {
    using cache = new Cache(tempDir('stampede'));
    let runs = 0;
    const flaky = memoizeStampede(cache, { expire: 60 })(async function flaky() {
      runs++;
      await pause(5);
      if (runs === 1) throw new Error('first try fails');
      return 'second try';
    });
    const first = await Promise.allSettled([flaky(), flaky(), flaky()]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(runs).toBe(1);
    expect(cache.has(flaky.cacheKey())).toBe(false);
    expect(await flaky()).toBe('second try'); // no token left behind blocks this
    expect(runs).toBe(2);
    const syncThrow = memoizeStampede(cache, { expire: 60 })(function syncThrow(): number {
      throw new TypeError('sync');
    });
    await expect(syncThrow()).rejects.toThrow('sync');
  });

  it('caches undefined and null results', async () => {
    using cache = new Cache(tempDir('stampede'));
    let runs = 0;
    const nothing = memoizeStampede(cache, { expire: 60 })(
      async function nothing(): Promise<undefined> {
        runs++;
        return undefined;
      },
    );
    expect(await nothing()).toBeUndefined();
    expect(await nothing()).toBeUndefined();
    expect(runs).toBe(1);
  });

  it('recomputes a hot key early in the background and serves the stored value meanwhile', async () => {
    using cache = new Cache(tempDir('stampede'));
    let version = 0;
    // beta = Infinity: every hit is "close enough to expiry" (a deterministic XFetch trigger).
    const eager = memoizeStampede(cache, { expire: 60, beta: Number.POSITIVE_INFINITY })(
      async function eager() {
        version++;
        await pause(10);
        return version;
      },
    );
    expect(await eager()).toBe(1);
    expect(await eager()).toBe(1); // stale value served at once, recomputation started
    expect(await eager()).toBe(1); // only one recomputation at a time: the token is taken
    await eventually(
      () => (cache.get<[number, number]>(eager.cacheKey())?.[0] ?? 0) === 2,
      'the background recompute stored 2',
    );
    expect(version).toBe(2);
    // With the default beta, a fresh entry is never recomputed (-delta * ln(random) < 60 s always).
    let calm = 0;
    const lazy = memoizeStampede(cache, { expire: 60 })(async function lazy() {
      calm++;
      await pause(5);
      return calm;
    });
    for (let i = 0; i < 20; i++) expect(await lazy()).toBe(1);
    await pause(20);
    expect(calm).toBe(1);
  });

  it('rejects bad options', () => {
    using cache = new Cache(tempDir('stampede'));
    expect(() => memoizeStampede(cache, undefined as never)).toThrow(/expire/);
    expect(() => memoizeStampede(cache, {} as never)).toThrow(
      /expire must be a finite number of seconds > 0/,
    );
    expect(() => memoizeStampede(cache, { expire: 0 })).toThrow(RangeError);
    expect(() => memoizeStampede(cache, { expire: 1, beta: 0 })).toThrow(
      /beta must be a number > 0, got 0/,
    );
    expect(() => memoizeStampede(cache, { expire: 1, waitTimeout: -1 })).toThrow(/waitTimeout/);
    expect(() => memoizeStampede(cache, { expire: 1 })(() => 1)).toThrow(/has no name/);
    expect(() => memoizeStampede(cache, { expire: 1 })(3 as never)).toThrow(TypeError);
  });

  it('4 processes x 50 concurrent callers on a cold key: the function runs exactly once', async () => {
    const directory = tempDir('stampede-mp');
    const results = await startTogether<string[]>(
      'recipes-stampede.ts',
      Array.from({ length: 4 }, () => [directory, '50', '800']),
    );
    using cache = new Cache(directory);
    expect(cache.get('runs')).toBe(1);
    expect(new Set(results.flat()).size).toBe(1); // every caller of every process got the one result
  });

  it('a caller waits for a computation in another process only up to waitTimeout (the holder was SIGKILLed)', async () => {
    const directory = tempDir('stampede-kill');
    using cache = new Cache(directory);
    const child = await holdInChild(directory, 'compute', 'cold', 1); // holds the compute token, never finishes
    await kill(child);
    let runs = 0;
    const stuck = memoizeStampede(cache, { expire: 60, waitTimeout: 1 })(function stuck(
      name: string,
    ) {
      runs++;
      return `${name} computed here`;
    });
    expect(await stuck('cold')).toBe('cold computed here');
    expect(runs).toBe(1);
  });
});
