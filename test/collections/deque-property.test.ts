// Property test: random sequences of Deque operations give what an in-memory array gives (with
// collections.deque's maxlen rule). One directory for the whole run, cleared per sequence.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache, Deque, IndexError, ValueError } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

type Item = number | string | { o: number };
type Op =
  | { op: 'append' | 'appendLeft' | 'remove' | 'count'; value: Item }
  | { op: 'extend' | 'extendLeft'; values: Item[] }
  | { op: 'pop' | 'popLeft' | 'peek' | 'peekLeft' | 'reverse' | 'clear' }
  | { op: 'at' | 'deleteAt'; index: number }
  | { op: 'setAt'; index: number; value: Item }
  | { op: 'rotate'; steps: number };

const item: fc.Arbitrary<Item> = fc.oneof(
  fc.integer({ min: 0, max: 4 }),
  fc.constantFrom('a', 'b'),
  fc.integer({ min: 0, max: 1 }).map((o) => ({ o })),
);
const index = fc.integer({ min: -7, max: 7 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constantFrom('append', 'appendLeft', 'remove', 'count'),
      value: item,
    }) as fc.Arbitrary<Op>,
    weight: 6,
  },
  {
    arbitrary: fc.record({
      op: fc.constantFrom('extend', 'extendLeft'),
      values: fc.array(item, { maxLength: 5 }),
    }) as fc.Arbitrary<Op>,
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constantFrom('pop', 'popLeft', 'peek', 'peekLeft', 'reverse'),
    }) as fc.Arbitrary<Op>,
    weight: 4,
  },
  { arbitrary: fc.constant({ op: 'clear' } as Op), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constantFrom('at', 'deleteAt'), index }) as fc.Arbitrary<Op>,
    weight: 3,
  },
  {
    arbitrary: fc.record({ op: fc.constant('setAt'), index, value: item }) as fc.Arbitrary<Op>,
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('rotate'),
      steps: fc.integer({ min: -9, max: 9 }),
    }) as fc.Arbitrary<Op>,
    weight: 2,
  },
);

/** The model: an array, bounded like Python's collections.deque(maxlen=...). */
class Model {
  constructor(
    readonly items: Item[],
    readonly maxlen: number,
  ) {}
  append(value: Item) {
    this.items.push(value);
    if (this.items.length > this.maxlen) this.items.shift();
  }
  appendLeft(value: Item) {
    this.items.unshift(value);
    if (this.items.length > this.maxlen) this.items.pop();
  }
  position(index: number): number | undefined {
    const position = index < 0 ? index + this.items.length : index;
    return position >= 0 && position < this.items.length ? position : undefined;
  }
}

/** Applies `step` to both; returns what each returned (or the error class each threw). */
function apply(deque: Deque<Item>, model: Model, step: Op): [unknown, unknown] {
  const items = model.items;
  switch (step.op) {
    case 'append':
    case 'appendLeft':
      deque[step.op](step.value);
      model[step.op](step.value);
      return [undefined, undefined];
    case 'extend':
      deque.extend(step.values);
      for (const value of step.values) model.append(value);
      return [undefined, undefined];
    case 'extendLeft':
      deque.extendLeft(step.values);
      for (const value of step.values) model.appendLeft(value);
      return [undefined, undefined];
    case 'pop':
      return [deque.pop(), items.pop()];
    case 'popLeft':
      return [deque.popLeft(), items.shift()];
    case 'peek':
      return [deque.peek(), items.at(-1)];
    case 'peekLeft':
      return [deque.peekLeft(), items[0]];
    case 'reverse':
      deque.reverse();
      items.reverse();
      return [undefined, undefined];
    case 'clear':
      deque.clear();
      items.length = 0;
      return [undefined, undefined];
    case 'count':
      return [
        deque.count(step.value),
        items.filter((x) => isDeepStrictEqual(x, step.value)).length,
      ];
    case 'remove': {
      const found = items.findIndex((x) => isDeepStrictEqual(x, step.value));
      if (found >= 0) items.splice(found, 1);
      return [outcome(() => deque.remove(step.value)), found >= 0 ? undefined : ValueError];
    }
    case 'rotate': {
      deque.rotate(step.steps);
      const n =
        items.length === 0 ? 0 : ((step.steps % items.length) + items.length) % items.length;
      items.unshift(...items.splice(items.length - n, n));
      return [undefined, undefined];
    }
    case 'at': {
      const position = model.position(step.index);
      return [
        outcome(() => deque.at(step.index)),
        position === undefined ? IndexError : items[position],
      ];
    }
    case 'setAt': {
      const position = model.position(step.index);
      if (position !== undefined) items[position] = step.value;
      return [
        outcome(() => deque.setAt(step.index, step.value)),
        position === undefined ? IndexError : undefined,
      ];
    }
    case 'deleteAt': {
      const position = model.position(step.index);
      if (position !== undefined) items.splice(position, 1);
      return [
        outcome(() => deque.deleteAt(step.index)),
        position === undefined ? IndexError : undefined,
      ];
    }
  }
}

/** The result of `fn`, or the class of the error it threw. */
function outcome(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (error) {
    return (error as object).constructor;
  }
}

describe('Deque against an array model', () => {
  const cache = new Cache(tempDir('deque-property'), { evictionPolicy: 'none' });
  afterAll(() => cache.close());

  it('agrees on 1,000 random operation sequences (with and without maxlen)', () => {
    let checked = 0;
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 5 }), { freq: 2 }),
        fc.array(item, { maxLength: 6 }),
        fc.array(op, { maxLength: 12 }),
        (maxlen, start, ops) => {
          cache.clear();
          const deque = Deque.fromCache<Item>(cache, { maxlen: maxlen ?? undefined });
          const model = new Model([], maxlen ?? Number.POSITIVE_INFINITY);
          apply(deque, model, { op: 'extend', values: start });
          for (const step of ops) {
            const [got, expected] = apply(deque, model, step);
            expect(got, JSON.stringify(step)).toEqual(expected);
            expect(deque.length).toBe(model.items.length);
          }
          expect([...deque]).toEqual(model.items);
          expect([...deque.reversed()]).toEqual([...model.items].reverse());
          checked++;
        },
      ),
      { numRuns: 1000 },
    );
    expect(checked).toBe(1000);
  });
});
