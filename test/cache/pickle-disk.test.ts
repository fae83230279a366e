/**
 * Python's plain data through real cache directories: PickleDisk writes values and structured keys
 * that Python's diskcache reads and looks up (Cache, FanoutCache shards, Deque, Index), and Node —
 * with the default Disk and with PickleDisk — reads what Python pickled, never running its code.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Cache,
  Deque,
  FanoutCache,
  ForeignKey,
  Index,
  PickleDisk,
  UnsupportedValueError,
} from '../../src/index.js';
import { py, sqlRows } from '../fixtures/python-compat.js';
import { compiledFixture } from '../helpers/children.js';
import { findPython, pythonTitle } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

/** Runs a command to its end; resolves with its stdout, rejects on a non-zero exit. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} exited ${code}: ${stderr}`)),
    );
  });
}

describe('PickleDisk without Python', () => {
  it('stores natively what diskcache stores natively, and pickles the rest', () => {
    const dir = tempDir('pickledisk');
    const cache = new Cache(dir, { disk: PickleDisk });
    cache.set('text', 'plain');
    cache.set('int', 5n);
    cache.set('record', { a: 1, b: [null, true] });
    cache.set(['tuple', 1], 'structured key');
    const modes = sqlRows(
      dir,
      'SELECT raw, mode, hex(substr(value, 1, 2)) FROM Cache ORDER BY rowid',
    );
    expect(modes).toEqual([
      [1n, 1n, '706C'], // 'pl' of 'plain', TEXT
      [1n, 1n, '35'], // '5', an INTEGER as diskcache stores ints
      [1n, 4n, '8005'], // a pickle, protocol 5
      [0n, 1n, '7374'], // a pickled key (raw=0) of a TEXT value
    ]);
    expect(cache.get('record')).toEqual({ a: 1, b: [null, true] });
    expect(cache.get(['tuple', 1])).toBe('structured key');
    expect([...cache.keys()]).toEqual(['text', 'int', 'record', ['tuple', 1]]);
    expect(() => cache.set('date', new Date(0))).toThrow(/a Date cannot be pickled/);
    expect(() => cache.set([new Date(0)], 1)).toThrow(/invalid key: a Date cannot be pickled/);
    expect(() => cache.set('undefined', undefined)).toThrow(TypeError);
    expect(cache.size).toBe(4);
    // A cache written by the default Disk stays readable (v8 values, structured keys).
    cache.close();
    const v8Dir = tempDir('pickledisk-v8');
    const plain = new Cache(v8Dir);
    plain.set({ k: 1 }, new Map([[1, new Date(0)]]));
    plain.close();
    const reader = new Cache(v8Dir, { disk: PickleDisk });
    // Its structured keys are encoded differently from PickleDisk's: they come back as ForeignKey.
    expect(reader.get({ k: 1 })).toBeUndefined();
    const [foreign] = [...reader.keys()] as [ForeignKey];
    expect(foreign).toBeInstanceOf(ForeignKey);
    expect(foreign.decode()).toEqual({ k: 1 });
    expect(reader.get(foreign)).toEqual(new Map([[1, new Date(0)]]));
    reader.close();
  });
});

describe.skipIf(!findPython())(pythonTitle(`PickleDisk and Python`), () => {
  it('Python reads and looks up what a Node PickleDisk cache writes', () => {
    const dir = tempDir('pickledisk-node-writes');
    const cache = new Cache(dir, { disk: PickleDisk });
    const values: [unknown, unknown, string][] = [
      ['none', null, 'None'],
      ['true', true, 'True'],
      ['record', { id: 7, name: 'x', tags: ['a', 'b'], score: 1.5, ok: false }, ''],
      ['list', [1, 'two', [3n ** 50n]], "[1, 'two', [717897987691852588770249]]"],
      [
        'map',
        new Map<unknown, unknown>([
          [1, 'one'],
          [null, 'none'],
        ]),
        "{1: 'one', None: 'none'}",
      ],
      ['set', new Set([3]), '{3}'],
      ['nan', Number.NaN, 'nan'],
      ['huge', 2n ** 80n, '1208925819614629174706176'],
      ['bytes', Buffer.from('ab'), "b'ab'"],
      ['big', { items: Array.from({ length: 20_000 }, (_, i) => i) }, ''],
      [['user', 42], 'tuple key', "'tuple key'"],
      [null, 'none key', "'none key'"],
      [true, 'bool key', "'bool key'"],
      [2n ** 70n, 'huge key', "'huge key'"],
      [[['nested', 1], 2.5, Buffer.from('k')], 'nested key', "'nested key'"],
    ];
    for (const [key, value] of values) cache.set(key, value, { tag: 'node' });
    expect(sqlRows(dir, "SELECT mode, filename IS NOT NULL FROM Cache WHERE key = 'big'")).toEqual([
      [4n, 1n],
    ]);
    const seen = py<{
      reprs: string[];
      record: unknown;
      keys: string[];
      warnings: string[];
      sum: number;
    }>(
      `
      cache = diskcache.Cache(ARGS[0])
      lookups = ['none', 'true', 'list', 'map', 'set', 'nan', 'huge', 'bytes',
                 ('user', 42), None, True, 2**70, (('nested', 1), 2.5, b'k')]
      out({'reprs': [repr(cache[k]) for k in lookups],
           'record': cache['record'],
           'sum': sum(cache['big']['items']),
           'keys': [repr(k) for k in cache],
           'warnings': warnings_of(cache)})
      `,
      dir,
    );
    const expected = values.filter(([, , repr]) => repr !== '').map(([, , repr]) => repr);
    expect(seen.reprs).toEqual(expected);
    expect(seen.record).toEqual({ id: 7, name: 'x', tags: ['a', 'b'], score: 1.5, ok: false });
    expect(seen.sum).toBe((19_999 * 20_000) / 2);
    expect(seen.keys).toEqual([
      "'none'",
      "'true'",
      "'record'",
      "'list'",
      "'map'",
      "'set'",
      "'nan'",
      "'huge'",
      "'bytes'",
      "'big'",
      "('user', 42)",
      'None',
      'True',
      '1180591620717411303424',
      "(('nested', 1), 2.5, b'k')",
    ]);
    expect(seen.warnings).toEqual([]);
    cache.close();
  });

  it('Node reads what Python writes: default Disk (keys as ForeignKey) and PickleDisk (keys decoded)', () => {
    const dir = tempDir('pickledisk-python-writes');
    const marker = path.join(tempDir('pickledisk-marker'), 'pwned');
    py(
      `
      import os
      class Evil:
          def __reduce__(self):
              return (os.system, ('touch ' + ARGS[1],))
      cache = diskcache.Cache(ARGS[0])
      cache[('a', 1)] = {'x': [1, 2.5, None], 'b': b'\\x00\\x01', 't': (1, 'a'), 's': {1, 2}}
      cache[None] = frozenset(['f'])
      cache[(1.0,)] = 'float tuple'
      cache[('s', 's')] = 'shared strings'
      cache['mixed'] = {1: 'int key', 'a': 'str key'}
      cache['big'] = list(range(20000))
      cache['evil'] = Evil()
      cache['nested-evil'] = {'ok': 1, 'bad': [Evil()]}
      out(None)
      `,
      dir,
      marker,
    );
    const record = { x: [1, 2.5, null], b: Buffer.from([0, 1]), t: [1, 'a'], s: new Set([1, 2]) };

    const plain = new Cache(dir);
    const foreign = [...plain.keys()];
    expect(foreign[0]).toBeInstanceOf(ForeignKey);
    expect((foreign[0] as ForeignKey).decode()).toEqual(['a', 1]);
    expect(plain.get(foreign[0])).toEqual(record);
    expect(plain.get(foreign[1])).toEqual(new Set(['f']));
    expect(plain.get('mixed')).toEqual(
      new Map<unknown, unknown>([
        [1, 'int key'],
        ['a', 'str key'],
      ]),
    );
    expect(plain.get('big')).toHaveLength(20000);
    for (const key of ['evil', 'nested-evil']) {
      expect(() => plain.get(key)).toThrow(UnsupportedValueError);
      expect(() => plain.get(key)).toThrow(/opcode (STACK_)?GLOBAL/);
    }
    plain.close();

    const cache = new Cache(dir, { disk: PickleDisk });
    const keys = [...cache.keys()];
    expect(keys.slice(0, 2)).toEqual([['a', 1], null]);
    // (1.0,) re-encodes as (1,) and ('s', 's') shares one memoized str in Python's bytes: neither
    // round-trips, so both stay ForeignKey (which still addresses the entry).
    expect(keys[2]).toBeInstanceOf(ForeignKey);
    expect(keys[3]).toBeInstanceOf(ForeignKey);
    expect(cache.get(keys[2])).toBe('float tuple');
    expect(cache.get(['a', 1])).toEqual(record);
    expect(cache.get(null)).toEqual(new Set(['f']));
    expect(cache.getEntry(['a', 1])).toMatchObject({ value: record });
    expect(() => cache.get('evil')).toThrow(UnsupportedValueError);
    expect(fs.existsSync(marker)).toBe(false);
    // Node overwrites Python's tuple key in place: the same row.
    cache.set(['a', 1], { replaced: true });
    expect(cache.size).toBe(8);
    expect(py<unknown>("out(diskcache.Cache(ARGS[0])[('a', 1)])", dir)).toEqual({ replaced: true });
    expect(cache.check()).toEqual([]);
    cache.close();
  });

  it('FanoutCache: Node and Python put a structured key in the same shard', () => {
    const dir = tempDir('pickledisk-fanout');
    const fanout = new FanoutCache(dir, { shards: 4, disk: PickleDisk });
    const keys: unknown[] = [['job', 1], ['job', 2], ['job', 3], null, true, [['x'], 2n ** 70n]];
    for (const [i, key] of keys.entries()) fanout.set(key, { i });
    const seen = py<unknown[]>(
      `
      cache = diskcache.FanoutCache(ARGS[0], shards=4)
      out([cache.get(k) for k in [('job', 1), ('job', 2), ('job', 3), None, True, (('x',), 2**70)]])
      `,
      dir,
    );
    expect(seen).toEqual(keys.map((_, i) => ({ i })));
    py(
      `
      cache = diskcache.FanoutCache(ARGS[0], shards=4)
      for i in range(4, 10):
          cache[('job', i)] = {'i': i}
      out(None)
      `,
      dir,
    );
    for (let i = 4; i < 10; i++) expect(fanout.get(['job', i])).toEqual({ i });
    fanout.close();
  });

  it('Deque and Index: Python produces, Node consumes, and back', () => {
    const dequeDir = tempDir('pickledisk-deque');
    const indexDir = tempDir('pickledisk-index');
    py(
      `
      deque = diskcache.Deque(directory=ARGS[0])
      deque.extend([{'job': i, 'args': [i, None]} for i in range(5)])
      index = diskcache.Index(ARGS[1])
      index['config'] = {'retries': 3, 'hosts': ('a', 'b')}
      index[('user', 1)] = {'name': 'ada'}
      out(None)
      `,
      dequeDir,
      indexDir,
    );
    // The default Disk reads Python's items.
    const deque = new Deque(dequeDir);
    expect(deque.popLeft()).toEqual({ job: 0, args: [0, null] });
    deque.close();
    const dequeCache = new Cache(dequeDir, { disk: PickleDisk, evictionPolicy: 'none' });
    const pickled = Deque.fromCache(dequeCache);
    expect([...pickled]).toEqual([1, 2, 3, 4].map((i) => ({ job: i, args: [i, null] })));
    pickled.append({ job: 'from node', when: null });
    const indexCache = new Cache(indexDir, { disk: PickleDisk, evictionPolicy: 'none' });
    const index = Index.fromCache(indexCache);
    expect(index.get('config')).toEqual({ retries: 3, hosts: ['a', 'b'] });
    expect(index.get(['user', 1])).toEqual({ name: 'ada' });
    index.set(['user', 2], { name: 'grace', langs: new Set(['py']) });
    const seen = py<{ deque: unknown[]; user: string; len: number }>(
      `
      deque = diskcache.Deque(directory=ARGS[0])
      index = diskcache.Index(ARGS[1])
      out({'deque': list(deque), 'user': repr(index[('user', 2)]), 'len': len(index)})
      `,
      dequeDir,
      indexDir,
    );
    expect(seen.deque.at(-1)).toEqual({ job: 'from node', when: null });
    expect(seen.deque).toHaveLength(5);
    expect(seen.user).toBe("{'name': 'grace', 'langs': {'py'}}");
    expect(seen.len).toBe(3);
    dequeCache.close();
    indexCache.close();
  });

  it("2 Python and 2 Node processes drain one Deque of both languages' dicts: each item once", async () => {
    const dir = tempDir('pickledisk-drain');
    const gate = path.join(tempDir('pickledisk-gate'), 'go');
    const count = 300;
    py(
      `
      deque = diskcache.Deque(directory=ARGS[0])
      deque.extend([{'id': 'py-%d' % i, 'payload': [i, None, (i, 'x')]} for i in range(int(ARGS[1]))])
      out(None)
      `,
      dir,
      String(count),
    );
    const cache = new Cache(dir, { disk: PickleDisk, evictionPolicy: 'none' });
    const deque = Deque.fromCache(cache);
    for (let i = 0; i < count; i++) deque.append({ id: `node-${i}`, payload: [i, null, [i, 'x']] });
    cache.close();
    const pythonDrain = `
import json, os, sys, time
import diskcache
directory, gate, name = sys.argv[1:]
deque = diskcache.Deque(directory=directory)
open(gate + '.ready-' + name, 'w').close()
while not os.path.exists(gate):
    time.sleep(0.002)
ids = []
while True:
    try:
        ids.append(deque.popleft()['id'])
    except IndexError:
        break
sys.stdout.write(json.dumps(ids))
`;
    const python = findPython()!;
    // This run's transpiled fixture with plain node, else the source through tsx.
    const compiled = compiledFixture('pickle-deque-drain.ts');
    const drainEntry = compiled
      ? [compiled]
      : ['--import', 'tsx', path.join(FIXTURES, 'pickle-deque-drain.ts')];
    const children = [
      run(python, ['-c', pythonDrain, dir, gate, 'py1']),
      run(python, ['-c', pythonDrain, dir, gate, 'py2']),
      ...['node1', 'node2'].map((name) => run(process.execPath, [...drainEntry, dir, gate, name])),
    ];
    const names = ['py1', 'py2', 'node1', 'node2'];
    const deadline = Date.now() + 60_000;
    while (!names.every((name) => fs.existsSync(`${gate}.ready-${name}`))) {
      if (Date.now() > deadline) throw new Error('the drain children did not start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    fs.writeFileSync(gate, '');
    const drained = (await Promise.all(children)).map((stdout) => JSON.parse(stdout) as string[]);
    const all = drained.flat();
    expect(all).toHaveLength(2 * count);
    expect(new Set(all).size).toBe(2 * count);
    console.log(
      `cross-language drain: ${drained.map((ids, i) => `${names[i]} ${ids.length}`).join(', ')}`,
    );
  }, 120_000);
});
