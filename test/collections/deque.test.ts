// Deque in one process: both ends, positions, values, the whole-deque operations, maxlen, the
// on-disk layout diskcache expects, lifecycle and bad input. Each test opens a real directory.
import { afterEach, describe, expect, it } from 'vitest';
import { Cache, Deque, IndexError, ValueError } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

const open: { close(): void }[] = [];
afterEach(() => {
  for (const item of open.splice(0)) item.close();
});

function deque<T = unknown>(
  items: T[] = [],
  options?: { maxlen?: number },
  directory = tempDir('deque'),
): Deque<T> {
  const created = new Deque<T>(directory, options);
  open.push(created);
  created.extend(items);
  return created;
}

describe('Deque ends', () => {
  it('is empty at first: pops and peeks return undefined', () => {
    const d = deque();
    expect(d.length).toBe(0);
    expect([d.pop(), d.popLeft(), d.peek(), d.peekLeft()]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect([...d]).toEqual([]);
    expect([...d.reversed()]).toEqual([]);
  });

  it('appends and pops at both ends in deque order', () => {
    const d = deque<string>();
    d.append('b');
    d.append('c');
    d.appendLeft('a');
    expect([...d]).toEqual(['a', 'b', 'c']);
    expect(d.peekLeft()).toBe('a');
    expect(d.peek()).toBe('c');
    expect(d.length).toBe(3);
    expect(d.pop()).toBe('c');
    expect(d.popLeft()).toBe('a');
    expect(d.popLeft()).toBe('b');
    expect(d.popLeft()).toBeUndefined();
  });

  it('keeps its items in the directory for the next opener', () => {
    const directory = tempDir('deque');
    const first = deque([1, 2, 3], {}, directory);
    first.close();
    const second = deque<number>([], {}, directory);
    expect([...second]).toEqual([1, 2, 3]);
    expect(second.directory).toBe(directory);
  });

  it('stores items under diskcache queue keys around 500000000000000 in a cache with policy none', () => {
    const d = deque(['x', 'y']);
    d.appendLeft('w');
    expect([...d.cache.iterKeys()]).toEqual([499999999999999, 500000000000000, 500000000000001]);
    expect(d.cache.reset('eviction_policy')).toBe('none');
  });

  it('round-trips values of many types, including values kept in files', () => {
    const big = 'z'.repeat(100_000);
    const values = [
      null,
      0,
      -1.5,
      'text',
      Buffer.from([1, 2]),
      2n ** 70n,
      new Date(5),
      new Map([[1, 'one']]),
      { nested: [1, { a: true }] },
      big,
    ];
    const d = deque<unknown>(values);
    expect([...d]).toEqual(values);
    expect(d.peek()).toBe(big); // a peek of a file-backed value leaves it in place
    expect(d.length).toBe(values.length);
    expect(d.pop()).toBe(big);
  });

  it('rejects undefined as a value (undefined means empty) and leaves the deque unchanged', () => {
    const d = deque([1]);
    expect(() => d.append(undefined as never)).toThrow(TypeError);
    expect(() => d.extend([2, undefined as never, 3])).toThrow(TypeError);
    expect([...d]).toEqual([1]);
  });
});

describe('Deque extend', () => {
  it('extend adds in order, extendLeft in reverse order, from any iterable', () => {
    const d = deque<number>([3]);
    d.extend(new Set([4, 5]));
    d.extendLeft(
      (function* () {
        yield 2;
        yield 1;
      })(),
    );
    expect([...d]).toEqual([1, 2, 3, 4, 5]);
    d.extend([]);
    expect(d.length).toBe(5);
  });

  it('extend is all or nothing: a value that cannot be stored adds nothing', () => {
    const d = deque([1]);
    expect(() => d.extend([2, () => 3, 4] as never)).toThrow(TypeError);
    expect([...d]).toEqual([1]);
  });

  it('extend inside a transaction that fails is rolled back with it', () => {
    const d = deque<unknown>([1]);
    expect(() =>
      d.transact(() => {
        d.extend(['big'.repeat(20_000), 2]);
        throw new Error('abandon');
      }),
    ).toThrow('abandon');
    expect([...d]).toEqual([1]);
    expect(d.cache.check()).toEqual([]); // no value file left behind
  });

  it('rejects a non-iterable with a TypeError naming the method and what it got', () => {
    const d = deque();
    expect(() => d.extend(5 as never)).toThrow(
      /Deque\.extend\(iterable\): expected an iterable, got 5/,
    );
    expect(() => d.extendLeft(null as never)).toThrow(
      /Deque\.extendLeft\(iterable\): expected an iterable, got null/,
    );
  });
});

describe('Deque positions', () => {
  it('at reads from the front (0..) and the back (-1..)', () => {
    const d = deque(['a', 'b', 'c', 'd', 'e']);
    expect([0, 1, 2, 3, 4].map((i) => d.at(i))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect([-1, -2, -3, -4, -5].map((i) => d.at(i))).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('setAt replaces in place; deleteAt removes; both with negative indexes', () => {
    const d = deque(['a', 'b', 'c', 'd']);
    d.setAt(1, 'B');
    d.setAt(-1, 'D');
    expect([...d]).toEqual(['a', 'B', 'c', 'D']);
    d.deleteAt(-2);
    expect([...d]).toEqual(['a', 'B', 'D']);
    d.deleteAt(0);
    expect([...d]).toEqual(['B', 'D']);
    d.appendLeft('front'); // positions still work across the gap deleteAt left in the keys
    expect([d.at(0), d.at(1), d.at(-1)]).toEqual(['front', 'B', 'D']);
  });

  it('out of range: IndexError saying the index and the length', () => {
    const d = deque([1, 2, 3]);
    expect(() => d.at(3)).toThrow(IndexError);
    expect(() => d.at(3)).toThrow('Deque.at(3): index out of range (the deque has 3 items)');
    expect(() => d.at(-4)).toThrow(IndexError);
    expect(() => d.setAt(7, 0)).toThrow('Deque.setAt(7): index out of range');
    expect(() => d.deleteAt(-9)).toThrow('Deque.deleteAt(-9): index out of range');
    expect(() => deque().at(0)).toThrow('Deque.at(0): index out of range (the deque has 0 items)');
    expect([...d]).toEqual([1, 2, 3]);
  });

  it('a non-integer index is a TypeError naming the value', () => {
    const d = deque([1, 2, 3]);
    expect(() => d.at(1.5)).toThrow(/Deque\.at\(index\): index must be an integer, got 1\.5/);
    expect(() => d.setAt('1' as never, 0)).toThrow(/got "1"/);
    expect(() => d.deleteAt(Number.NaN)).toThrow(/got NaN/);
  });
});

describe('Deque values', () => {
  it('remove drops the first structurally equal item', () => {
    const d = deque<unknown>([{ a: 1 }, 'x', { a: 1 }, [1, 2]]);
    d.remove({ a: 1 });
    expect([...d]).toEqual(['x', { a: 1 }, [1, 2]]);
    d.remove([1, 2]);
    expect([...d]).toEqual(['x', { a: 1 }]);
  });

  it('remove of an absent value is a ValueError and changes nothing', () => {
    const d = deque<unknown>([1, '1']);
    expect(() => d.remove(2)).toThrow(ValueError);
    expect(() => d.remove(2)).toThrow('Deque.remove(value): value not in deque');
    expect(() => d.remove(1n)).toThrow(ValueError); // 1n is not deep-strict-equal to 1
    expect([...d]).toEqual([1, '1']);
  });

  it('count compares structurally and strictly', () => {
    const d = deque<unknown>([1, '1', 1, { k: [1] }, { k: [1] }, 1.0]);
    expect(d.count(1)).toBe(3);
    expect(d.count('1')).toBe(1);
    expect(d.count({ k: [1] })).toBe(2);
    expect(d.count({ k: ['1'] })).toBe(0);
  });
});

describe('Deque rotate, reverse, clear', () => {
  const items = [1, 2, 3, 4, 5];
  const rotated = (steps: number) => {
    const copy = [...items];
    const n = ((steps % copy.length) + copy.length) % copy.length;
    return [...copy.slice(copy.length - n), ...copy.slice(0, copy.length - n)];
  };

  it.each([0, 1, 2, 3, 4, 5, 7, -1, -2, -3, -4, -6, 1_000_001])(
    'rotate(%i) matches an array rotation',
    (steps) => {
      const d = deque(items);
      d.rotate(steps);
      expect([...d]).toEqual(rotated(steps));
      expect(d.length).toBe(5);
    },
  );

  it('rotate defaults to one step right and does nothing on an empty deque', () => {
    const d = deque(items);
    d.rotate();
    expect([...d]).toEqual([5, 1, 2, 3, 4]);
    const empty = deque();
    empty.rotate(3);
    expect(empty.length).toBe(0);
  });

  it('rotate with a non-integer is a TypeError naming the value', () => {
    const d = deque(items);
    expect(() => d.rotate(1.5)).toThrow(
      /Deque\.rotate\(steps\): steps must be an integer, got 1\.5/,
    );
    expect(() => d.rotate('2' as never)).toThrow(/got "2"/);
    expect(() => d.rotate(Number.POSITIVE_INFINITY)).toThrow(/got Infinity/);
    expect([...d]).toEqual(items);
  });

  it('reverse reverses odd and even lengths, values in files included', () => {
    const big = 'b'.repeat(50_000);
    const d = deque<unknown>([1, 2, big, 4]);
    d.reverse();
    expect([...d]).toEqual([4, big, 2, 1]);
    d.append(0);
    d.reverse();
    expect([...d]).toEqual([0, 1, 2, big, 4]);
    expect(d.cache.check()).toEqual([]);
  });

  it('clear empties it', () => {
    const d = deque(items);
    d.clear();
    expect(d.length).toBe(0);
    expect([...d]).toEqual([]);
  });
});

describe('Deque maxlen', () => {
  it('append beyond maxlen drops from the front; appendLeft drops from the back', () => {
    const d = deque<number>([], { maxlen: 3 });
    for (const n of [1, 2, 3, 4]) d.append(n);
    expect([...d]).toEqual([2, 3, 4]);
    d.appendLeft(0);
    expect([...d]).toEqual([0, 2, 3]);
    expect(d.maxlen).toBe(3);
  });

  it('extend keeps the last maxlen items; extendLeft the last maxlen at the front', () => {
    const d = deque<number>([1, 2], { maxlen: 3 });
    d.extend([3, 4, 5, 6, 7]);
    expect([...d]).toEqual([5, 6, 7]);
    d.extendLeft([8, 9]);
    expect([...d]).toEqual([9, 8, 5]);
  });

  it('maxlen 0 keeps nothing; unbounded is Infinity', () => {
    const zero = deque<number>([1, 2], { maxlen: 0 });
    zero.append(3);
    expect(zero.length).toBe(0);
    expect(deque().maxlen).toBe(Number.POSITIVE_INFINITY);
  });

  it('setting maxlen trims from the front', () => {
    const d = deque([1, 2, 3, 4, 5]);
    d.maxlen = 2;
    expect([...d]).toEqual([4, 5]);
    d.maxlen = Number.POSITIVE_INFINITY;
    d.extend([6, 7, 8]);
    expect(d.length).toBe(5);
  });

  it('a bad maxlen is a TypeError or RangeError naming the value', () => {
    const directory = tempDir('deque');
    expect(() => new Deque(directory, { maxlen: -1 })).toThrow(RangeError);
    expect(() => new Deque(directory, { maxlen: -1 })).toThrow(
      /maxlen must be a non-negative integer or undefined, got -1/,
    );
    expect(() => new Deque(directory, { maxlen: 2.5 })).toThrow(TypeError);
    expect(() => new Deque(directory, { maxlen: '3' as never })).toThrow(/got "3"/);
    expect(() => new Deque(directory, 3 as never)).toThrow(
      /Deque options must be an object, got 3/,
    );
    const d = deque();
    expect(() => {
      d.maxlen = -2;
    }).toThrow(RangeError);
  });
});

describe('Deque iteration', () => {
  it('iterates front to back and back to front', () => {
    const d = deque(['a', 'b', 'c']);
    expect([...d]).toEqual(['a', 'b', 'c']);
    expect([...d.reversed()]).toEqual(['c', 'b', 'a']);
    expect(Array.from({ length: 250 }, (_, i) => i)).toEqual([
      ...deque(Array.from({ length: 250 }, (_, i) => i)),
    ]);
  });

  it('skips items removed during the walk and does not visit items pushed behind its end', () => {
    const d = deque(Array.from({ length: 300 }, (_, i) => i));
    const seen: number[] = [];
    for (const item of d) {
      seen.push(item as number);
      if (item === 10) {
        d.deleteAt(11); // 11 is gone before the walk reaches it
        d.popLeft(); // 0, already seen
        d.rotate(-5); // 1..5 (seen) move to the back: not met again
        d.append(1000); // pushed after the walk started
      }
    }
    expect(seen).toEqual([
      ...Array.from({ length: 11 }, (_, i) => i),
      ...Array.from({ length: 288 }, (_, i) => i + 12),
    ]);
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe('Deque transactions and lifecycle', () => {
  it('transact makes a group of operations atomic and rolls back on error', () => {
    const d = deque([1, 2, 3]);
    const moved = d.transact(() => {
      const front = d.popLeft() as number;
      d.append(front * 10);
      return front;
    });
    expect(moved).toBe(1);
    expect([...d]).toEqual([2, 3, 10]);
    expect(() =>
      d.transact(() => {
        d.clear();
        throw new Error('no');
      }),
    ).toThrow('no');
    expect([...d]).toEqual([2, 3, 10]);
  });

  it('fromCache uses the given cache and leaves it open on close', () => {
    const cache = new Cache(tempDir('deque'), { evictionPolicy: 'none' });
    open.push(cache);
    const d = Deque.fromCache<number>(cache, { maxlen: 2 });
    d.extend([1, 2, 3]);
    expect(d.cache).toBe(cache);
    expect(d.maxlen).toBe(2);
    d.close();
    expect(cache.size).toBe(2);
    expect(() => Deque.fromCache({} as never)).toThrow(
      /Deque\.fromCache\(cache\): cache must be a Cache, got Object/,
    );
  });

  it('with no directory it opens a new temporary one', () => {
    const d = new Deque<number>();
    open.push(d);
    d.append(1);
    expect(d.directory).toMatch(/diskcache-/);
    expect(Object.prototype.toString.call(d)).toBe('[object Deque]');
  });

  it('close (and dispose) closes the cache it opened: further operations throw', () => {
    const d = new Deque(tempDir('deque'));
    d.append(1);
    d.close();
    expect(() => d.append(2)).toThrow();
    d.close(); // twice is fine
    let escaped: Deque | undefined;
    {
      using disposed = new Deque(tempDir('deque'));
      disposed.append(1);
      escaped = disposed;
    }
    expect(() => escaped?.length).toThrow();
  });
});
