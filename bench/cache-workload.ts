/**
 * The engine benchmark's workload: which keys and values each operation uses, defined once here
 * and mirrored line for line in python_cache.py, so every system does exactly the same work in the
 * same order. Call i of an operation uses key i of a fixed permutation of the key set (a stride
 * coprime with the key count), so reads and writes are spread over the whole index.
 */
import type { BenchValue, SyncStore } from './cache-systems.js';

/** The operations of the engine table, in the order they run (delete last: it removes keys). */
export const OPERATIONS = ['getHit', 'getMiss', 'set', 'transact', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const OPERATION_LABELS: Record<Operation, string> = {
  getHit: 'get (hit)',
  getMiss: 'get (miss)',
  set: 'set (overwrite)',
  transact: 'set in transact (per set)',
  delete: 'delete',
};

/** Sets per transaction in the 'transact' operation. */
export const TRANSACT_BATCH = 1000;
/** A prime, so coprime with any key count that is not a multiple of it. */
export const STRIDE = 48271;

export type ValueKind = 'buffer' | 'string';

export interface WorkloadConfig {
  readonly keys: number;
  readonly stride: number;
  readonly value: ValueKind;
}

export function keyName(index: number): string {
  return `key-${String(index).padStart(7, '0')}`;
}

/** 1024 bytes (or 1024 ASCII characters) that differ between variants 0 and 1. */
export function valueFor(kind: ValueKind, variant: number): BenchValue {
  if (kind === 'buffer')
    return Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 31 + 7 + variant) & 0xff));
  return Array.from({ length: 1024 }, (_, i) =>
    String.fromCharCode(97 + ((i + variant) % 26)),
  ).join('');
}

/** The key set and values of one run, and the call each operation makes. */
export class Workload {
  readonly config: WorkloadConfig;
  readonly #keys: string[];
  readonly #valueA: BenchValue;
  readonly #valueB: BenchValue;

  constructor(config: WorkloadConfig) {
    if (config.keys % config.stride === 0)
      throw new RangeError(`keys (${config.keys}) must not be a multiple of the stride`);
    this.config = config;
    this.#keys = Array.from({ length: config.keys }, (_, i) => keyName(i));
    this.#valueA = valueFor(config.value, 0);
    this.#valueB = valueFor(config.value, 1);
  }

  /** Key number `index` of the permutation. */
  key(index: number): string {
    return this.#keys[(index * this.config.stride) % this.config.keys]!;
  }

  /** Writes every key once (value A), 1000 per transaction. Not timed. */
  populate(store: SyncStore): void {
    const value = this.#valueA;
    for (let start = 0; start < this.#keys.length; start += TRANSACT_BATCH) {
      const end = Math.min(start + TRANSACT_BATCH, this.#keys.length);
      store.transact(() => {
        for (let index = start; index < end; index++) store.set(this.#keys[index]!, value);
      });
    }
  }

  /** The function that performs call number i of `operation` on `store`. */
  call(store: SyncStore, operation: Operation): (index: number) => unknown {
    switch (operation) {
      case 'getHit':
        return (i) => store.get(this.key(i));
      case 'getMiss':
        return (i) => store.get(`miss-${String(i).padStart(7, '0')}`);
      case 'set': {
        const offset = Math.floor(this.config.keys / 2);
        const value = this.#valueB;
        return (i) => store.set(this.key(i + offset), value);
      }
      case 'transact': {
        const value = this.#valueA;
        return (i) =>
          store.transact(() => {
            for (let j = i * TRANSACT_BATCH; j < (i + 1) * TRANSACT_BATCH; j++)
              store.set(this.key(j), value);
          });
      }
      case 'delete':
        return (i) => store.delete(this.key(i));
    }
  }

  /** Throws unless a populated store returned a 1 KB value for a hit and nothing for a miss. */
  static check(label: string, hitLength: number | null, missFound: boolean): void {
    if (hitLength !== 1024)
      throw new Error(
        `${label}: a hit returned ${hitLength === null ? 'nothing' : `${hitLength} units`}, expected 1024`,
      );
    if (missFound) throw new Error(`${label}: a miss returned a value`);
  }
}
