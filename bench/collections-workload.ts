/**
 * The collections benchmark's workload: the operations, the 100-character values and the keys,
 * defined once here and mirrored line for line in python_collections.py, so every system does the
 * same work. Index calls use key i of a fixed permutation of the key set (cache-workload's stride).
 */
import { keyName, STRIDE } from './cache-workload.js';

export { STRIDE };

/** The per-call operations, in the order they run (popLeft takes back what append added). */
export const SINGLE_OPS = ['append', 'popLeft', 'indexSet', 'indexGet'] as const;
export type SingleOp = (typeof SINGLE_OPS)[number];

export const SINGLE_OP_LABELS: Record<SingleOp, string> = {
  append: 'Deque append',
  popLeft: 'Deque popLeft',
  indexSet: 'Index set (overwrite)',
  indexGet: 'Index get (hit)',
};

/** Characters in every value (ASCII, so also bytes in UTF-8). */
export const VALUE_LENGTH = 100;

/** Item `number` of a deque: its number in 8 digits, then filler to 100 characters. */
export function itemValue(number: number): string {
  return String(number).padStart(8, '0') + 'x'.repeat(VALUE_LENGTH - 8);
}

/** The number an item value starts with. */
export function itemNumber(value: string): number {
  return Number(value.slice(0, 8));
}

/** An Index value: 100 times one letter (variant 0: populate, variant 1: the timed sets). */
export function indexValue(variant: number): string {
  return String.fromCharCode(97 + variant).repeat(VALUE_LENGTH);
}

/** The Index key set and the key that call i of an Index operation uses. */
export class IndexKeys {
  readonly count: number;
  readonly #names: string[];

  constructor(count: number) {
    if (count % STRIDE === 0)
      throw new RangeError(`keys (${count}) must not be a multiple of the stride`);
    this.count = count;
    this.#names = Array.from({ length: count }, (_, i) => keyName(i));
  }

  get all(): readonly string[] {
    return this.#names;
  }

  /** The key of call `index`; sets use `index + count / 2`, so they start elsewhere than gets. */
  key(index: number): string {
    return this.#names[(index * STRIDE) % this.count]!;
  }

  /** The first index of the timed sets. */
  get setOffset(): number {
    return Math.floor(this.count / 2);
  }
}
