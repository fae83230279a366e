/**
 * Pickle benchmark: a typical record (a dict of 10 fields) encoded and decoded by node-diskcache's
 * safe pickle codec (PickleDisk's format), by v8 serialization (the default Disk's format), by
 * JSON for scale, and by Python's own C pickle (protocol 5) where /usr/bin/python3 is available;
 * then set + get through a Cache with each Disk, next to Python diskcache's. Reports, never asserts.
 */
import { spawnSync } from 'node:child_process';
import * as v8 from 'node:v8';
import { loadPickle } from '../src/cache/pickle.js';
import { dumpPickle } from '../src/cache/pickle-writer.js';
import { Cache, Disk, PickleDisk } from '../src/index.js';
import {
  type BenchContext,
  type BenchModule,
  findPythonDiskcache,
  formatNumber,
  formatRate,
  formatTable,
  freshDirectory,
  loadAverage,
  measure,
  type Stats,
  writeResult,
} from './lib.js';

const RECORD = {
  id: 123456,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  active: true,
  score: 97.25,
  tags: ['math', 'engines', 'poetry'],
  created: 1733300000,
  ratio: 0.125,
  parent: null,
  meta: { source: 'import', version: 3 },
};
const PY_RECORD =
  "{'id': 123456, 'name': 'Ada Lovelace', 'email': 'ada@example.com', 'active': True, " +
  "'score': 97.25, 'tags': ['math', 'engines', 'poetry'], 'created': 1733300000, " +
  "'ratio': 0.125, 'parent': None, 'meta': {'source': 'import', 'version': 3}}";

/** Python's pickle.dumps/loads and diskcache set/get of the record: µs per operation. */
const PYTHON_SCRIPT = `
import json, pickle, sys, tempfile, time
import diskcache
record = ${PY_RECORD}
ops = int(sys.argv[1])
def per_op(fn):
    for _ in range(ops // 10): fn()
    start = time.perf_counter()
    for _ in range(ops): fn()
    return (time.perf_counter() - start) / ops * 1e6
data = pickle.dumps(record, protocol=5)
cache = diskcache.Cache(tempfile.mkdtemp())
counter = iter(range(10**9))
def set_get():
    key = next(counter) % 1000
    cache.set(key, record)
    cache.get(key)
print(json.dumps({'bytes': len(data), 'encode': per_op(lambda: pickle.dumps(record, protocol=5)),
                  'decode': per_op(lambda: pickle.loads(data)), 'setGet': per_op(set_get)}))
`;

interface Row {
  readonly format: string;
  readonly bytes: number;
  readonly encode: Stats | number;
  readonly decode: Stats | number;
  readonly setGet: Stats | number;
}

const us = (value: Stats | number) => (typeof value === 'number' ? value : value.meanUs);

async function run(context: BenchContext): Promise<void> {
  const ops = context.quick ? 20_000 : 200_000;
  const cacheOps = context.quick ? 2_000 : 20_000;
  const options = { ops, warmup: ops / 10 };
  const pickled = dumpPickle(RECORD);
  const serialized = v8.serialize(RECORD);
  const json = JSON.stringify(RECORD);

  const cacheRound = (disk: typeof Disk): Stats => {
    const { directory, remove } = freshDirectory('pickle');
    const cache = new Cache(directory, { disk });
    try {
      return measure(
        (i) => {
          cache.set(i % 1000, RECORD);
          cache.get(i % 1000);
        },
        { ops: cacheOps, warmup: cacheOps / 10 },
      );
    } finally {
      cache.close();
      remove();
    }
  };

  context.progress('pickle: codecs');
  const rows: Row[] = [
    {
      format: 'pickle (node-diskcache, PickleDisk)',
      bytes: pickled.length,
      encode: measure(() => dumpPickle(RECORD), options),
      decode: measure(() => loadPickle(pickled), options),
      setGet: cacheRound(PickleDisk),
    },
    {
      format: 'v8 serialize (default Disk)',
      bytes: serialized.length,
      encode: measure(() => v8.serialize(RECORD), options),
      decode: measure(() => v8.deserialize(serialized), options),
      setGet: cacheRound(Disk),
    },
    {
      format: 'JSON (for scale)',
      bytes: Buffer.byteLength(json),
      encode: measure(() => JSON.stringify(RECORD), options),
      decode: measure(() => JSON.parse(json), options),
      setGet: Number.NaN,
    },
  ];
  const python = findPythonDiskcache();
  if ('python' in python) {
    context.progress('pickle: Python');
    const result = spawnSync(python.python, ['-c', PYTHON_SCRIPT, String(ops / 2)], {
      encoding: 'utf8',
    });
    if (result.status === 0) {
      const py = JSON.parse(result.stdout) as {
        bytes: number;
        encode: number;
        decode: number;
        setGet: number;
      };
      rows.push({ format: `Python C pickle, protocol 5 (${python.version})`, ...py });
    } else context.log(`Python run failed: ${result.stderr.trim().split('\n').at(-1)}`);
  } else context.log(python.missing);

  context.log(`A dict of 10 fields; mean µs per operation (load average ${loadAverage()}).`);
  context.log(
    formatTable(
      [
        { header: 'format', align: 'left' },
        { header: 'bytes' },
        { header: 'encode µs' },
        { header: 'decode µs' },
        { header: 'decode ops/s' },
        { header: 'cache set+get µs' },
      ],
      rows.map((row) => [
        row.format,
        String(row.bytes),
        formatNumber(us(row.encode)),
        formatNumber(us(row.decode)),
        formatRate(1e6 / us(row.decode)),
        formatNumber(us(row.setGet)),
      ]),
    ),
  );
  writeResult(context.quick ? 'quick-pickle.json' : 'latest-pickle.json', {
    machine: context.machine,
    rows: rows.map((row) => ({
      format: row.format,
      bytes: row.bytes,
      encodeUs: us(row.encode),
      decodeUs: us(row.decode),
      setGetUs: us(row.setGet),
    })),
  });
}

const bench: BenchModule = {
  name: 'pickle',
  title: 'a 10-field record through the pickle codec, v8 serialization and Python pickle',
  run,
};
export default bench;
