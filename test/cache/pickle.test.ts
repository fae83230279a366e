/**
 * The safe pickle codec (src/cache/pickle.ts): round trips, Python's pickles of every plain type in
 * protocols 0-5, Python reading ours, key bytes equal to diskcache's, refusal of every opcode that
 * can name or call code (with no side effect), and fuzzing with random and mutated pickles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnsupportedValueError } from '../../src/cache/errors.js';
import { loadPickle, PICKLE_MAX_NESTING } from '../../src/cache/pickle.js';
import { dumpPickle } from '../../src/cache/pickle-writer.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs a Python script with a JSON document on a file (ARGS[0]); returns what it passes to out(). */
function pyJson<T>(script: string, input: unknown = null): T {
  const dir = tempDir('pickle-py');
  const [file, output] = [path.join(dir, 'input.json'), path.join(dir, 'output.json')];
  fs.writeFileSync(file, JSON.stringify(input));
  const prelude =
    'import json, pickle, pickletools, sys\nARGS = sys.argv[1:]\n' +
    "def out(result): open(ARGS[1], 'w').write(json.dumps(result))\n";
  runPython(prelude + script, [file, output]);
  return JSON.parse(fs.readFileSync(output, 'utf8')) as T;
}

/** What a value reads back as after a trip through pickle: safe bigints become numbers, bytes Buffers. */
function asRead(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(asRead);
  if (value instanceof Map) {
    // A dict whose keys are all str (or none) reads back as a plain object.
    if ([...value.keys()].every((key) => typeof key === 'string')) {
      return asRead(Object.fromEntries(value));
    }
    return new Map([...value].map(([k, v]) => [asRead(k), asRead(v)]));
  }
  if (value instanceof Set) return new Set([...value].map(asRead));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, { value: asRead(v), enumerable: true, writable: true });
    }
    return out;
  }
  return value;
}

const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
);
const hashable = fc.oneof(fc.string({ maxLength: 10 }), fc.integer());
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('tree'), { maxLength: 6 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('tree'), { maxKeys: 6 }),
    fc.array(fc.tuple(hashable, tie('tree')), { maxLength: 4 }).map((entries) => new Map(entries)),
    fc.array(hashable, { maxLength: 5 }).map((items) => new Set(items)),
  ),
}));

describe('pickle codec', () => {
  it('round-trips plain data (property)', () => {
    fc.assert(
      fc.property(tree, (value) => {
        expect(loadPickle(dumpPickle(value))).toEqual(asRead(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps shared and cyclic containers, and dict keys such as __proto__ as own properties', () => {
    const shared = [1, 2];
    const cyclic: unknown[] = ['self'];
    cyclic.push(cyclic);
    const back = loadPickle(dumpPickle({ a: shared, b: shared, c: cyclic })) as {
      a: unknown[];
      b: unknown[];
      c: unknown[];
    };
    expect(back.a).toBe(back.b);
    expect(back.c[1]).toBe(back.c);

    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}');
    const read = loadPickle(dumpPickle(hostile)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    expect(Object.keys(read)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(read, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('writes keys canonically: arrays as tuples, object keys sorted, no memo', () => {
    expect(dumpPickle({ b: 1, a: 2 }, { key: true })).toEqual(
      dumpPickle({ a: 2, b: 1 }, { key: true }),
    );
    expect(dumpPickle(['a', 1], { key: true }).toString('hex')).toBe(
      '80059507000000000000008c01614b01862e',
    );
    expect(dumpPickle(null, { key: true }).toString('hex')).toBe('80054e2e');
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(() => dumpPickle(cyclic, { key: true })).toThrow(/nested more than 1000 levels/);
  });

  it('refuses what pickle cannot carry with a TypeError naming it', () => {
    class Point {
      x = 1;
    }
    const cases: [unknown, RegExp][] = [
      [undefined, /undefined cannot be pickled/],
      [new Date(0), /a Date cannot be pickled/],
      [new Point(), /a Point cannot be pickled/],
      [() => 1, /a function cannot be pickled/],
      [Symbol('s'), /a symbol cannot be pickled/],
      [{ nested: [1, undefined] }, /array item 1 is undefined/],
      [{ when: new Date(0) }, /a Date cannot be pickled/],
      [new Map([[{ a: 1 }, 1]]), /a Map key Object cannot be a Python dict key/],
      [new Set([[1]]), /a Set of Array cannot be pickled as a Python set/],
      [new Int16Array(2), /a Int16Array cannot be pickled/],
      [/re/, /a RegExp cannot be pickled/],
    ];
    for (const [value, message] of cases) {
      expect(() => dumpPickle(value)).toThrow(TypeError);
      expect(() => dumpPickle(value)).toThrow(message);
    }
    let deep: unknown = 1;
    for (let i = 0; i <= PICKLE_MAX_NESTING; i++) deep = [deep];
    expect(() => dumpPickle(deep)).toThrow(/nested more than 1000 levels/);
  });

  it('frames large pickles as pickletools.optimize does (big opcodes outside frames)', () => {
    const big = { text: 'x'.repeat(70_000), items: Array.from({ length: 30_000 }, (_, i) => i) };
    const bytes = dumpPickle(big);
    expect(loadPickle(bytes)).toEqual(big);
    expect(bytes[2]).toBe(0x95); // a FRAME first
  });

  describe('hostile input fails fast with UnsupportedValueError', () => {
    const refuse = (hex: string, message: RegExp) => {
      expect(() => loadPickle(Buffer.from(hex, 'hex'))).toThrow(UnsupportedValueError);
      expect(() => loadPickle(Buffer.from(hex, 'hex'))).toThrow(message);
    };

    it('every opcode that names or calls code, and unknown opcodes, by name', () => {
      const latin = (text: string) => Buffer.from(text, 'latin1').toString('hex');
      refuse(latin("cos\nsystem\n(S'touch x'\ntR."), /opcode GLOBAL \(0x63\)/);
      refuse(latin('\x80\x04\x8c\x02os\x8c\x06system\x93.'), /opcode STACK_GLOBAL \(0x93\)/);
      refuse(latin('\x80\x02N)R.'), /opcode REDUCE \(0x52\)/);
      refuse(latin('\x80\x02]}b.'), /opcode BUILD \(0x62\)/);
      refuse(latin("(S'touch x'\nios\nsystem\n."), /opcode INST \(0x69\)/);
      refuse(latin("(NS'touch x'\no."), /opcode OBJ \(0x6f\)/);
      refuse(latin('\x80\x02N)\x81.'), /opcode NEWOBJ \(0x81\)/);
      refuse(latin('\x80\x04N)}\x92.'), /opcode NEWOBJ_EX \(0x92\)/);
      refuse(latin('\x80\x02\x82\x01.'), /opcode EXT1/);
      refuse(latin('\x80\x02\x83\x01\x00.'), /opcode EXT2/);
      refuse(latin('\x80\x02\x84\x01\x00\x00\x00.'), /opcode EXT4/);
      refuse(latin('P1\n.'), /opcode PERSID/);
      refuse(latin('\x80\x02K\x01Q.'), /opcode BINPERSID/);
      refuse(latin('\x80\x05\x97.'), /opcode NEXT_BUFFER/);
      refuse(latin('\x80\x05]\x98.'), /opcode READONLY_BUFFER/);
      refuse('8005ff2e', /unknown opcode 0xff/);
      refuse('8006', /unsupported pickle protocol 6/);
    });

    it('lengths beyond the input, deep nesting, bad memo and stack errors', () => {
      refuse('80058effffffffff0000002e', /length beyond the pickle/); // BINBYTES8 of ~1 TB
      refuse('8005960000000001000000', /length beyond the pickle/); // BYTEARRAY8
      refuse('800542ffffff7f', /truncated/); // BINBYTES of 2 GB
      refuse('80058bffffff7f', /truncated/); // LONG4 of 2 GB
      refuse('80058b000000802e', /negative LONG4 length/);
      refuse('800595ffff000000000000', /truncated/); // FRAME beyond the end
      refuse(`8005${'28'.repeat(PICKLE_MAX_NESTING + 1)}`, /nested MARKs/);
      refuse('8005680a2e', /memo 10 was never stored/);
      refuse('8005612e', /stack underflow/);
      refuse('8005284b01742e'.replace('28', ''), /no MARK/);
      refuse('80054b01', /no STOP/);
      refuse('8005', /no STOP/);
      refuse('', /no STOP/);
      refuse('80058c03e282', /truncated/);
      refuse('80058c02c3282e', /invalid UTF-8/);
      refuse(Buffer.from(`L${'9'.repeat(5000)}L\n.`).toString('hex'), /bad integer/);
      // 100 000 nested lists through the memo (no MARK, a small stack): refused without recursion.
      const chain = (levels: number, shortcut = false) => {
        const parts = [Buffer.from('80055d94', 'hex')];
        for (let i = 1; i < levels; i++) {
          const step = Buffer.from('5d946a000000006130', 'hex'); // [] MEMOIZE GET(i-1) APPEND POP
          step.writeUInt32LE(i - 1, 3);
          parts.push(step);
        }
        // The result: the deepest list, or a list referring to every level (deepest last) so that
        // a walk meeting the shallow references first must still find the long chain.
        if (shortcut) {
          parts.push(Buffer.from('5d9428', 'hex'));
          for (let i = 0; i < levels; i++) {
            const get = Buffer.from('6a00000000', 'hex');
            get.writeUInt32LE(i, 1);
            parts.push(get);
          }
          parts.push(Buffer.from('652e', 'hex'));
        } else {
          const get = Buffer.from('6a000000002e', 'hex');
          get.writeUInt32LE(levels - 1, 1);
          parts.push(get);
        }
        return Buffer.concat(parts);
      };
      refuse(chain(100_000).toString('hex'), /containers nested more than 1000 levels/);
      refuse(chain(1001, true).toString('hex'), /containers nested more than 1000 levels/);
      let depth = 0;
      for (let list = loadPickle(chain(1000)) as unknown[]; list.length > 0; depth++) {
        list = list[0] as unknown[];
      }
      expect(depth).toBe(999);
      expect(loadPickle(chain(999, true))).toHaveLength(999);
      // The writer's deepest value reads back.
      let deepest: unknown = 1;
      for (let i = 0; i < PICKLE_MAX_NESTING; i++) deepest = [deepest];
      expect(loadPickle(dumpPickle(deepest))).toEqual(deepest);
      // Many containers, shallow: fine.
      const wide = Array.from({ length: 5000 }, (_, i) => ({ i, tags: [i] }));
      expect(loadPickle(dumpPickle(wide))).toEqual(wide);
    });

    it('a dict that gets a non-str key after being shared becomes a Map everywhere', () => {
      // {} memo0; list [memo0] ; then SETITEM (1, 'a') on the dict: references are swapped.
      // EMPTY_DICT MEMOIZE, EMPTY_LIST MEMOIZE, GET 0, APPEND, POP, SETITEM(1, 'a'), POP, GET 1
      const bytes = Buffer.from('80057d945d9468006130' + '4b018c016173' + '3068012e', 'hex');
      expect(loadPickle(bytes)).toEqual([new Map([[1, 'a']])]);
    });
  });

  describe('fuzzing: random and mutated pickles give a value or UnsupportedValueError', () => {
    let runs = 0;
    let slowestMs = 0;
    const check = (bytes: Uint8Array) => {
      runs++;
      const started = performance.now();
      try {
        loadPickle(bytes);
      } catch (error) {
        if (!(error instanceof UnsupportedValueError)) {
          throw new Error(`${(error as Error).name} on ${Buffer.from(bytes).toString('hex')}`, {
            cause: error,
          });
        }
      }
      slowestMs = Math.max(slowestMs, performance.now() - started);
    };

    it('random bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withHeader) => {
          check(withHeader ? Buffer.concat([Buffer.from([0x80, 5]), bytes]) : bytes);
        }),
        { numRuns: 6000 },
      );
    });

    it('mutations of valid pickles (flip, insert, delete, truncate)', () => {
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('flip'), at: fc.nat(), byte: fc.nat(255) }),
        fc.record({ kind: fc.constant('insert'), at: fc.nat(), byte: fc.nat(255) }),
        fc.record({ kind: fc.constant('delete'), at: fc.nat(), byte: fc.constant(0) }),
        fc.record({ kind: fc.constant('truncate'), at: fc.nat(), byte: fc.constant(0) }),
      );
      fc.assert(
        fc.property(tree, fc.array(mutation, { minLength: 1, maxLength: 4 }), (value, edits) => {
          let bytes = [...dumpPickle(value)];
          for (const { kind, at, byte } of edits) {
            const index = at % Math.max(1, bytes.length);
            if (kind === 'flip') bytes[index] = byte;
            else if (kind === 'insert') bytes.splice(index, 0, byte);
            else if (kind === 'delete') bytes.splice(index, 1);
            else bytes = bytes.slice(0, index);
          }
          check(Uint8Array.from(bytes));
        }),
        { numRuns: 6000 },
      );
      console.log(`pickle fuzz: ${runs} inputs, slowest ${slowestMs.toFixed(2)} ms`);
    });
  });
});

describe.skipIf(!findPython())(pythonTitle(`pickle codec against Python`), () => {
  it("reads Python's pickles of every plain type in protocols 0 to 5", () => {
    // name → [Python expression, JS value, lowest protocol without GLOBAL for it]
    const cases: Record<string, [string, unknown, number]> = {
      none: ['None', null, 0],
      true: ['True', true, 0],
      false: ['False', false, 0],
      small: ['7', 7, 0],
      negative: ['-300', -300, 0],
      int32: ['2**31 - 1', 2 ** 31 - 1, 0],
      int64: ['2**40', 2 ** 40, 0],
      maxSafe: ['2**53 - 1', Number.MAX_SAFE_INTEGER, 0],
      beyondSafe: ['2**53 + 1', 2n ** 53n + 1n, 0],
      huge: ['-(2**300)', -(2n ** 300n), 0],
      float: ['1.25', 1.25, 0],
      tiny: ['5e-324', 5e-324, 0],
      negZero: ['-0.0', -0, 0],
      inf: ["float('inf')", Infinity, 0],
      nan: ["float('nan')", Number.NaN, 0],
      str: ["'héllo wörld 日本 😀'", 'héllo wörld 日本 😀', 0],
      escapes: ["'a\\\\b\\nc\\rd\\x00e\\x1a'", 'a\\b\nc\rd\x00e\x1a', 0],
      surrogate: ["'x\\ud800y'", 'x\ud800y', 0],
      long: ["'z' * 70000", 'z'.repeat(70000), 0],
      bytes: ["b'\\x00\\xffab'", Buffer.from([0, 255, 97, 98]), 3],
      bigBytes: ["b'q' * 70000", Buffer.alloc(70000, 'q'), 3],
      bytearray: ["bytearray(b'ab')", Buffer.from('ab'), 5],
      list: ["[1, 'a', [None, 2.5]]", [1, 'a', [null, 2.5]], 0],
      bigList: ['list(range(2500))', Array.from({ length: 2500 }, (_, i) => i), 0],
      tuple: ["(1, ('a', ()), (1, 2, 3, 4))", [1, ['a', []], [1, 2, 3, 4]], 0],
      dict: [
        "{'name': 'x', 'n': 1, 'nested': {'k': [1]}}",
        { name: 'x', n: 1, nested: { k: [1] } },
        0,
      ],
      bigDict: [
        "{'k%d' % i: i for i in range(1500)}",
        Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`k${i}`, i])),
        0,
      ],
      mapDict: [
        "{1: 'one', 'two': 2, (3, 4): None, None: True}",
        new Map<unknown, unknown>([
          [1, 'one'],
          ['two', 2],
          [[3, 4], null],
          [null, true],
        ]),
        0,
      ],
      set: ["{1, 'a'}", new Set([1, 'a']), 4],
      frozenset: ['frozenset([2])', new Set([2]), 4],
      shared: ['[[1]] * 2', [[1], [1]], 0],
    };
    const names = Object.keys(cases);
    const written = pyJson<Record<string, (string | null)[]>>(
      `
cases = json.load(open(ARGS[0]))
result = {}
for name, expression in cases.items():
    value = eval(expression)
    result[name] = [pickle.dumps(value, protocol=p).hex() for p in range(6)]
out(result)
`,
      Object.fromEntries(names.map((name) => [name, cases[name]![0]])),
    );
    for (const name of names) {
      const [, expected, lowest] = cases[name]!;
      for (let protocol = 0; protocol <= 5; protocol++) {
        const bytes = Buffer.from(written[name]![protocol]!, 'hex');
        const label = `${name} in protocol ${protocol}`;
        if (protocol < lowest) {
          // Python writes these through GLOBAL (_codecs.encode, builtins.set...): refused.
          expect(() => loadPickle(bytes), label).toThrow(/opcode (STACK_)?GLOBAL/);
        } else {
          expect(loadPickle(bytes), label).toEqual(expected);
        }
      }
    }
    const sharedBack = loadPickle(Buffer.from(written.shared![5]!, 'hex')) as unknown[];
    expect(sharedBack[0]).toBe(sharedBack[1]);
  });

  it('Python reads what Node writes, with the types the mapping promises', () => {
    const cyclic: unknown[] = [1];
    cyclic.push(cyclic);
    const values: [unknown, string][] = [
      [null, 'None'],
      [true, 'True'],
      [42, '42'],
      [-1, '-1'],
      [2 ** 40, '1099511627776'],
      [2n ** 100n, '1267650600228229401496703205376'],
      [-(2n ** 63n), '-9223372036854775808'],
      [5n, '5'],
      [1.5, '1.5'],
      [1e20, '1e+20'],
      [-0, '-0.0'],
      [Number.NaN, 'nan'],
      [-Infinity, '-inf'],
      ['日本 😀', "'日本 😀'"],
      ['lone \ud800', "'lone \\ud800'"],
      [Buffer.from('ab'), "b'ab'"],
      [new Uint8Array([1, 2]), "b'\\x01\\x02'"],
      [[1, 'a', null], "[1, 'a', None]"],
      [{ a: 1, b: [true] }, "{'a': 1, 'b': [True]}"],
      [
        new Map<unknown, unknown>([
          [1, 'x'],
          [null, 2],
          [Buffer.from('k'), 3],
        ]),
        "{1: 'x', None: 2, b'k': 3}",
      ],
      [new Set(['only']), "{'only'}"],
      [cyclic, '[1, [...]]'],
    ];
    const reprs = pyJson<string[]>(
      `
out(([repr(pickle.loads(bytes.fromhex(h))) for h in json.load(open(ARGS[0]))]))
`,
      values.map(([value]) => dumpPickle(value).toString('hex')),
    );
    expect(reprs).toEqual(values.map(([, repr]) => repr));
  });

  it('random values survive Node → Python → Node (property)', () => {
    const samples: unknown[] = fc.sample(tree, { numRuns: 300, seed: 13 });
    samples.push({ text: 'y'.repeat(70_000), items: Array.from({ length: 30_000 }, (_, i) => i) });
    const back = pyJson<string[]>(
      `
result = []
for h in json.load(open(ARGS[0])):
    result.append(pickle.dumps(pickle.loads(bytes.fromhex(h)), protocol=5).hex())
out(result)
`,
      samples.map((value) => dumpPickle(value).toString('hex')),
    );
    back.forEach((hex, i) => {
      expect(loadPickle(Buffer.from(hex, 'hex'))).toEqual(asRead(samples[i]));
    });
  });

  it('key bytes are those diskcache stores: pickletools.optimize(pickle.dumps(key, 5))', () => {
    const keys: [unknown, string][] = [
      [null, 'None'],
      [true, 'True'],
      [false, 'False'],
      [2n ** 64n, '2**64'],
      [-(2n ** 70n) - 1n, '-(2**70) - 1'],
      [[], '()'],
      [['user', 42], "('user', 42)"],
      [['a', 1.5, null, true, Buffer.from('raw')], "('a', 1.5, None, True, b'raw')"],
      [[1, [2, [3, []]]], '(1, (2, (3, ())))'],
      [['x'.repeat(300), 'é'], "('x' * 300, 'é')"],
      [[2n ** 100n, -1, 65535, 65536, -(2 ** 31)], '(2**100, -1, 65535, 65536, -2**31)'],
      [['big', 'q'.repeat(70_000)], "('big', 'q' * 70000)"],
      [{ b: 1, a: 2 }, "{'a': 2, 'b': 1}"],
    ];
    const python = pyJson<string[]>(
      `
out(([pickletools.optimize(pickle.dumps(eval(e), protocol=5)).hex()
                  for e in json.load(open(ARGS[0]))]))
`,
      keys.map(([, expression]) => expression),
    );
    expect(keys.map(([key]) => dumpPickle(key, { key: true }).toString('hex'))).toEqual(python);
  });

  it("Python's own hostile pickles (a __reduce__ running a command) are refused with no side effect", () => {
    const marker = path.join(tempDir('pickle-marker'), 'pwned');
    const pickles = pyJson<string[]>(
      `
import os
marker = json.load(open(ARGS[0]))
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + marker,))
class Obj:
    def __init__(self): self.x = 1
out(([pickle.dumps(v, protocol=p).hex()
                  for p in range(6) for v in (Evil(), [1, Evil()], {'k': Evil()}, Obj())]))
`,
      marker,
    );
    expect(pickles).toHaveLength(24);
    for (const hex of pickles) {
      expect(() => loadPickle(Buffer.from(hex, 'hex'))).toThrow(UnsupportedValueError);
      expect(() => loadPickle(Buffer.from(hex, 'hex'))).toThrow(/opcode (STACK_)?GLOBAL/);
    }
    expect(fs.existsSync(marker)).toBe(false);
  });
});
