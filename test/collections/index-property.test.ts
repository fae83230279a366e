// Property test: random sequences of Index operations give what a JS Map gives, including its
// insertion order. One directory for the whole run, cleared per sequence.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Index, KeyError } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

type K = string | number;
type V = number | string;
type Op =
  | { op: 'set' | 'setDefault'; key: K; value: V }
  | { op: 'get' | 'has' | 'delete' | 'pop'; key: K }
  | { op: 'popDefault'; key: K; value: V }
  | { op: 'popItem' | 'peekItem'; last: boolean }
  | { op: 'clear' };

const key: fc.Arbitrary<K> = fc.oneof(
  fc.constantFrom('a', 'b', 'c', 'd', '1'),
  fc.integer({ min: 0, max: 3 }),
);
const value: fc.Arbitrary<V> = fc.oneof(fc.integer({ min: -2, max: 2 }), fc.constantFrom('x', 'y'));
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constantFrom('set', 'setDefault'),
      key,
      value,
    }) as fc.Arbitrary<Op>,
    weight: 8,
  },
  {
    arbitrary: fc.record({
      op: fc.constantFrom('get', 'has', 'delete', 'pop'),
      key,
    }) as fc.Arbitrary<Op>,
    weight: 6,
  },
  {
    arbitrary: fc.record({ op: fc.constant('popDefault'), key, value }) as fc.Arbitrary<Op>,
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constantFrom('popItem', 'peekItem'),
      last: fc.boolean(),
    }) as fc.Arbitrary<Op>,
    weight: 2,
  },
  { arbitrary: fc.constant({ op: 'clear' } as Op), weight: 1 },
);

/** The class of the error `fn` throws, or its result. */
function outcome(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (error) {
    return (error as object).constructor;
  }
}

/** Applies `step` to both; returns what each returned (KeyError for the model's "missing"). */
function apply(index: Index<K, V>, map: Map<K, V>, step: Op): [unknown, unknown] {
  switch (step.op) {
    case 'set':
      return [index.set(step.key, step.value) === index, map.set(step.key, step.value) === map];
    case 'get':
      return [index.get(step.key), map.get(step.key)];
    case 'has':
      return [index.has(step.key), map.has(step.key)];
    case 'delete':
      return [index.delete(step.key), map.delete(step.key)];
    case 'clear':
      index.clear();
      map.clear();
      return [undefined, undefined];
    case 'setDefault': {
      if (!map.has(step.key)) map.set(step.key, step.value);
      return [index.setDefault(step.key, step.value), map.get(step.key)];
    }
    case 'pop': {
      const expected = map.has(step.key) ? map.get(step.key) : KeyError;
      map.delete(step.key);
      return [outcome(() => index.pop(step.key)), expected];
    }
    case 'popDefault': {
      const expected = map.has(step.key) ? map.get(step.key) : step.value;
      map.delete(step.key);
      return [index.pop(step.key, step.value), expected];
    }
    case 'peekItem':
    case 'popItem': {
      const entries = [...map];
      const entry = step.last ? entries.at(-1) : entries[0];
      if (step.op === 'peekItem') return [index.peekItem({ last: step.last }), entry];
      if (entry) map.delete(entry[0]);
      return [outcome(() => index.popItem({ last: step.last })), entry ?? KeyError];
    }
  }
}

describe('Index against a Map', () => {
  const index = new Index<K, V>(tempDir('index-property'));
  afterAll(() => index.close());

  it('agrees on 1,000 random operation sequences, order included', () => {
    let checked = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 15 }), (ops) => {
        index.clear();
        const map = new Map<K, V>();
        for (const step of ops) {
          const [got, expected] = apply(index, map, step);
          expect(got, JSON.stringify(step)).toEqual(expected);
          expect(index.size).toBe(map.size);
        }
        expect([...index]).toEqual([...map]);
        expect([...index.keys()]).toEqual([...map.keys()]);
        expect([...index.values()]).toEqual([...map.values()]);
        const visited: [K, V][] = [];
        index.forEach((v, k) => {
          visited.push([k, v]);
        });
        expect(visited).toEqual([...map.entries()]);
        checked++;
      }),
      { numRuns: 1000 },
    );
    expect(checked).toBe(1000);
  });
});
