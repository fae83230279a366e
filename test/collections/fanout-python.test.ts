// FanoutCache against the reference: Python's diskcache.FanoutCache opens a directory written by
// Node and finds every key in its shard (same hash), and the other way round; deque()/index()
// sub-collections are shared too. Data goes to Python as JSON in argv, never into the code.
import { describe, expect, it } from 'vitest';
import { FanoutCache } from '../../src/index.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A value typed for JSON: string, int (as decimal text), float, bytes (hex); a long run of one
 * byte or character as [unit, count] (`bf`, `sf`) to keep argv short (one argument < 128 KiB).
 */
type Typed =
  | { s: string }
  | { i: string }
  | { f: number }
  | { b: string }
  | { bf: [number, number] }
  | { sf: [string, number] };

function typed(value: unknown): Typed {
  if (typeof value === 'string' && value.length > 1000 && value === value[0]!.repeat(value.length))
    return { sf: [value[0]!, value.length] };
  if (Buffer.isBuffer(value) && value.length > 1000 && value.every((byte) => byte === value[0]))
    return { bf: [value[0]!, value.length] };
  if (typeof value === 'string') return { s: value };
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)))
    return { i: String(value) };
  if (typeof value === 'number') return { f: value };
  if (Buffer.isBuffer(value)) return { b: value.toString('hex') };
  throw new Error(`cannot pass ${String(value)} to Python`);
}

function untyped(value: Typed): unknown {
  if ('s' in value) return value.s;
  if ('i' in value) return Number(value.i);
  if ('f' in value) return value.f;
  if ('b' in value) return Buffer.from(value.b, 'hex');
  throw new Error('Python answers in full forms only');
}

const PRELUDE = `
import json, sys, diskcache
def dec(t):
    if 's' in t: return t['s']
    if 'i' in t: return int(t['i'])
    if 'f' in t: return float(t['f'])
    if 'bf' in t: return bytes([t['bf'][0]]) * t['bf'][1]
    if 'sf' in t: return t['sf'][0] * t['sf'][1]
    return bytes.fromhex(t['b'])
def enc(v):
    if isinstance(v, str): return {'s': v}
    if isinstance(v, bool) or v is None: raise TypeError(repr(v))
    if isinstance(v, int): return {'i': str(v)}
    if isinstance(v, float): return {'f': v}
    return {'b': bytes(v).hex()}
ARGS = sys.argv[1:]
`;

function python(script: string, ...args: unknown[]): unknown {
  return JSON.parse(
    runPython(
      PRELUDE + script,
      args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))),
    ),
  );
}

/** Keys of every native kind, and values of every native kind, some big enough for value files. */
const PAIRS: [unknown, unknown][] = [
  ['alpha', 'one'],
  ['héllo wörld ✓', 2],
  [7, 1.5],
  [-3, Buffer.from('bytes value')],
  [2 ** 40, -9],
  [1.25, 'float key'],
  [Buffer.from([0, 1, 2, 255]), 'bytes key'],
  ['', 'empty key'],
  ['large-bytes', Buffer.alloc(50_000, 9)],
  ['large-text', 'x'.repeat(40_000)],
  ...Array.from({ length: 40 }, (_, i): [unknown, unknown] => [`key${i}`, i]),
];

describe.skipIf(!findPython())(
  pythonTitle(`FanoutCache and Python's diskcache.FanoutCache`),
  () => {
    it("Node and Python agree on every key's shard (Disk.hash % shards)", () => {
      const keys = PAIRS.map(([key]) => key);
      const pythonHashes = python(
        'print(json.dumps([diskcache.Disk("/tmp").hash(dec(k)) for k in json.loads(ARGS[0])]))',
        keys.map(typed),
      );
      using cache = new FanoutCache(tempDir('fanout-py'));
      expect(keys.map((key) => cache.disk.hash(key))).toEqual(pythonHashes);
    });

    it('Python reads every key of a fanout directory written by Node', () => {
      const dir = tempDir('fanout-py');
      {
        using cache = new FanoutCache(dir, { shards: 4 });
        for (const [key, value] of PAIRS) expect(cache.set(key, value)).toBe(true);
      }
      const result = python(
        `
c = diskcache.FanoutCache(ARGS[0], shards=4)
pairs = json.loads(ARGS[1])
found = [enc(c.get(dec(k), default='<missing>')) for k, _ in pairs]
print(json.dumps({'found': found, 'len': len(c), 'keys': [enc(k) for k in c]}))
`,
        dir,
        PAIRS.map(([key, value]) => [typed(key), typed(value)]),
      ) as { found: Typed[]; len: number; keys: Typed[] };
      expect(result.found.map(untyped)).toEqual(PAIRS.map(([, value]) => value));
      expect(result.len).toBe(PAIRS.length);
      using cache = new FanoutCache(dir, { shards: 4 });
      expect(result.keys.map(untyped)).toEqual([...cache.keys()]); // same shard order, same insertion order
    });

    it('Node reads every key of a fanout directory written by Python', () => {
      const dir = tempDir('fanout-py');
      python(
        `
c = diskcache.FanoutCache(ARGS[0])
for k, v in json.loads(ARGS[1]):
    assert c.set(dec(k), dec(v), retry=True)
c.incr('counter', 5)
c.close()
print('null')
`,
        dir,
        PAIRS.map(([key, value]) => [typed(key), typed(value)]),
      );
      using cache = new FanoutCache(dir);
      for (const [key, value] of PAIRS) expect(cache.get(key), String(key)).toEqual(value);
      expect(cache.get('counter')).toBe(5);
      expect(cache.incr('counter')).toBe(6);
      expect(cache.size).toBe(PAIRS.length + 1);
      expect(cache.settings.size_limit).toBe(2 ** 30 / 8);
    });

    it('Python sees the per-shard size_limit as a float, as its own FanoutCache writes it', () => {
      const dir = tempDir('fanout-py');
      new FanoutCache(dir, { shards: 4 }).close();
      const result = python(
        "c = diskcache.Cache(ARGS[0] + '/002')\nprint(json.dumps(repr(c.size_limit)))",
        dir,
      );
      expect(result).toBe('268435456.0');
    });

    it('deque(name) and index(name) are shared with Python', () => {
      const dir = tempDir('fanout-py');
      {
        using cache = new FanoutCache(dir);
        cache.deque('jobs').extend(['a', 'b', 'c']);
        cache.index('users').set('ann', 1).set('bob', 2);
      }
      const seen = python(
        `
c = diskcache.FanoutCache(ARGS[0])
d = c.deque('jobs')
i = c.index('users')
out = {'deque': list(d), 'index': list(i.items())}
d.append('from-python')
i['cy'] = 3
print(json.dumps(out))
`,
        dir,
      );
      expect(seen).toEqual({
        deque: ['a', 'b', 'c'],
        index: [
          ['ann', 1],
          ['bob', 2],
        ],
      });
      using cache = new FanoutCache(dir);
      expect([...cache.deque('jobs')]).toEqual(['a', 'b', 'c', 'from-python']);
      expect([...cache.index('users').entries()]).toEqual([
        ['ann', 1],
        ['bob', 2],
        ['cy', 3],
      ]);
    });
  },
);
