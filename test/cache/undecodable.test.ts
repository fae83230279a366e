/**
 * A value this process cannot decode (another language's object, a pickle that names code) never
 * aborts a listing: iteration yields an `Undecodable` placeholder with its mode and size, while a
 * direct `get` still throws `UnsupportedValueError` (or returns the placeholder when asked).
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Cache, Deque, Index, Undecodable, UnsupportedValueError } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

/** Python's `pickle.dumps(os.system, 0)`: a GLOBAL opcode, which the safe reader refuses. */
const CODE_PICKLE = Buffer.from('cos\nsystem\np0\n.', 'latin1');

/** Replaces the stored value of the entry whose value is `marker` with CODE_PICKLE (mode 4). */
function poison(directory: string, marker: string): void {
  const db = new Database(`${directory}/cache.db`);
  const changed = db
    .prepare('UPDATE Cache SET mode = 4, value = ? WHERE value = ?')
    .run(CODE_PICKLE, marker).changes;
  db.close();
  expect(changed).toBe(1);
}

describe('values this process cannot decode', () => {
  it('Cache: entries() yields a placeholder; get throws unless asked for the placeholder', () => {
    const dir = tempDir('undecodable');
    using cache = new Cache(dir);
    cache.set('a', 'one');
    cache.set('b', 'poison');
    cache.set('c', 'three');
    poison(dir, 'poison');
    const entries = [...cache.entries()];
    expect(entries.map(([key]) => key)).toEqual(['a', 'b', 'c']);
    const placeholder = entries[1]![1] as Undecodable;
    expect(placeholder).toBeInstanceOf(Undecodable);
    expect(placeholder.mode).toBe(4);
    expect(placeholder.size).toBe(CODE_PICKLE.length);
    expect(placeholder.reason).toMatch(/GLOBAL/);
    expect(String(placeholder)).toMatch(/undecodable value: mode 4, 15 bytes/);
    expect(() => cache.get('b')).toThrow(UnsupportedValueError);
    expect(cache.get('b', { placeholder: true })).toBeInstanceOf(Undecodable);
    expect(cache.get('c')).toBe('three');
  });

  it('Deque and Index: iteration goes on past the value', () => {
    const dequeDir = tempDir('undecodable-deque');
    using deque = new Deque<string>(dequeDir);
    deque.extend(['x', 'poison', 'z']);
    poison(dequeDir, 'poison');
    const items = [...deque];
    expect(items[0]).toBe('x');
    expect(items[1]).toBeInstanceOf(Undecodable);
    expect(items[2]).toBe('z');
    expect([...deque.reversed()][1]).toBeInstanceOf(Undecodable);

    const indexDir = tempDir('undecodable-index');
    using index = new Index<string, string>(indexDir);
    index.set('k1', 'v1').set('k2', 'poison');
    poison(indexDir, 'poison');
    const values = [...index.values()];
    expect(values[0]).toBe('v1');
    expect(values[1]).toBeInstanceOf(Undecodable);
    expect([...index.keys()]).toEqual(['k1', 'k2']);
  });
});
