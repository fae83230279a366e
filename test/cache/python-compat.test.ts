/**
 * Format compatibility with the reference: Python's diskcache (python3-diskcache 5.4 under
 * /usr/bin/python3) and node-diskcache open the same directories. Each test writes with one
 * language and reads with the other, comparing values *and* types (int vs float, str vs bytes),
 * expiry times, tags, counts, settings and the consistency check of both sides.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache, Disk, ForeignKey, JSONDisk, UnsupportedValueError } from '../../src/index.js';
import { py, sqlRows, type Tagged, tag, tagJson, untag } from '../fixtures/python-compat.js';
import { findPython, PYTHON_MISSING_REASON } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

/** An entry as Python's `get(key, expire_time=True, tag=True)` returns it, typed. */
type PyEntry = [Tagged, number | null, Tagged] | null;

/** What Python sees of `keys`: each key's [value, expire_time, tag], or null when missing. */
function pythonEntries(directory: string, keys: unknown[], diskClass = 'Disk'): PyEntry[] {
  return py<PyEntry[]>(
    `
    cache = diskcache.Cache(ARGS[0], disk=getattr(diskcache, ARGS[2]))
    out([entry(cache, dec(key)) for key in json.loads(ARGS[1])])
    `,
    directory,
    tagJson(keys),
    diskClass,
  );
}

/** Python's len(cache), its keys in insertion order, and its check() warnings. */
function pythonSummary(directory: string): { len: number; keys: Tagged[]; warnings: string[] } {
  return py(
    `
    cache = diskcache.Cache(ARGS[0])
    out({'len': len(cache), 'keys': [enc(key) for key in cache], 'warnings': warnings_of(cache)})
    `,
    directory,
  );
}

/** The same entry as Node sees it, in Python's typed shape. */
function nodeEntry(cache: Cache, key: unknown): PyEntry {
  const entry = cache.getEntry(key);
  return entry === undefined ? null : [tag(entry.value), entry.expireTime, tag(entry.tag)];
}

/** Settings.count and .size against the rows they summarise. */
function metadataMatchesRows(directory: string): void {
  const [[count, rows, size, sum]] = sqlRows(
    directory,
    "SELECT (SELECT value FROM Settings WHERE key = 'count'), (SELECT COUNT(*) FROM Cache)," +
      " (SELECT value FROM Settings WHERE key = 'size'), (SELECT COALESCE(SUM(size), 0) FROM Cache)",
  ) as [[bigint, bigint, bigint, bigint]];
  expect(count).toBe(rows);
  expect(size).toBe(sum);
}

describe.skipIf(!findPython())(`python-diskcache compatibility (${PYTHON_MISSING_REASON})`, () => {
  it('Python reads every native value Node writes, with the same type, tag and expiry', () => {
    const dir = tempDir('py-node-writes');
    const cache = new Cache(dir);
    const longText = 'héllo wörld — 日本語 😀\n'.repeat(2000);
    const bigBytes = randomBytes(40_000);
    const written: [unknown, unknown, { tag?: string | number | Buffer; expire?: number }?][] = [
      ['short', 'hello'],
      ['unicode', 'ünïcödé — 日本語 😀'],
      ['empty', ''],
      ['long-text', longText],
      ['bytes', Buffer.from([0, 1, 2, 254, 255])],
      ['empty-bytes', Buffer.alloc(0)],
      ['big-bytes', bigBytes],
      ['int', 42],
      ['negative', -7],
      ['zero', 0],
      ['near-2**62', 2n ** 62n + 5n],
      ['int64-min', -(2n ** 63n)],
      ['max-safe', Number.MAX_SAFE_INTEGER],
      ['float', 3.25],
      ['negative-zero', -0],
      ['infinity', Number.NEGATIVE_INFINITY],
      ['subnormal', 5e-324],
      ['tagged', 'with tag and expiry', { tag: 'group-a', expire: 3600 }],
      ['int-tag', 'int tag', { tag: 7 }],
      ['float-tag', 'float tag', { tag: 2.5, expire: 0.5 * 86_400 }],
      ['bytes-tag', Buffer.from('v'), { tag: Buffer.from([9, 8, 7]) }],
      ['file-tagged', bigBytes, { tag: 'files', expire: 60 }],
      // Numeric keys outside (0, 999999999999999): inside it they would join the push queue, in
      // diskcache as here.
      [-5, 'negative integer key'],
      [10 ** 15, 'integer key'],
      [2n ** 62n, 'bigint key'],
      [-1.5, 'float key'],
      [1e20, 'large float key'],
      [-2.75e-10, 'small float key'],
      [Buffer.from('bytes key'), 'bytes key'],
      [Buffer.from([0, 255, 0]), 'binary key'],
      ['ключ 🔑', 'non-ASCII key'],
    ];
    for (const [key, value, options] of written) expect(cache.set(key, value, options)).toBe(true);

    const pushed = [
      cache.push('job-1'),
      cache.push(Buffer.from('job-2')),
      cache.push(3),
      cache.push('job-0', { side: 'front' }),
      cache.push('p-1', { prefix: 'jobs' }),
      cache.push('p-2', { prefix: 'jobs', tag: 'queued' }),
    ];
    expect(pushed).toEqual([500000000000000, 500000000000001, 500000000000002, 499999999999999, 'jobs-500000000000000', 'jobs-500000000000001']);
    cache.incr('counter');
    cache.incr('counter', 2);
    cache.decr('down', 5);
    cache.incr('big-counter', 2n ** 62n);
    cache.incr('big-counter', 1);
    cache.incr('float-counter', 1.5);

    // The file-backed paths are really exercised: text file, binary file, INTEGER and REAL columns.
    const column = (key: unknown) => sqlRows(dir, 'SELECT mode, typeof(value) FROM Cache WHERE key = ?', key)[0];
    expect(column('long-text')).toEqual([3n, 'null']);
    expect(column('big-bytes')).toEqual([2n, 'null']);
    expect(column('int')).toEqual([1n, 'integer']);
    expect(column('float')).toEqual([1n, 'real']);
    expect(column('big-counter')).toEqual([1n, 'integer']);
    expect(column('near-2**62')).toEqual([1n, 'integer']);

    const keys = [...written.map(([key]) => key), ...pushed, 'counter', 'down', 'big-counter', 'float-counter', 'never-written'];
    const python = pythonEntries(dir, keys);
    expect(python).toEqual(keys.map((key) => nodeEntry(cache, key)));
    // Spot checks, so the comparison above cannot pass by both sides being wrong the same way.
    expect(python[keys.indexOf('tagged')]![0]).toEqual({ t: 'str', v: 'with tag and expiry' });
    expect(python[keys.indexOf('tagged')]![1]).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect(python[keys.indexOf('near-2**62')]![0]).toEqual({ t: 'int', v: '4611686018427387909' });
    expect(python[keys.indexOf('float')]![0]).toEqual({ t: 'float', v: 3.25 });
    expect(python[keys.indexOf('negative-zero')]![0]).toEqual({ t: 'float', v: '-0.0' });
    expect(untag(python[keys.indexOf('big-bytes')]![0])).toEqual(bigBytes);
    expect(untag(python[keys.indexOf('long-text')]![0])).toBe(longText);
    expect(python[keys.indexOf('big-counter')]![0]).toEqual({ t: 'int', v: String(2n ** 62n + 1n) });
    expect(python[keys.indexOf('float-counter')]![0]).toEqual({ t: 'float', v: 1.5 });
    expect(python[keys.length - 1]).toBeNull();

    const summary = pythonSummary(dir);
    expect(summary.warnings).toEqual([]);
    expect(summary.len).toBe(cache.size);
    expect(summary.keys).toEqual([...cache.keys()].map(tag));

    // Python works Node's queues and counters; Node sees the result.
    const pulled = py<Tagged[][]>(
      `
      cache = diskcache.Cache(ARGS[0])
      first = cache.pull()
      last = cache.pull(side='back')
      prefixed = cache.pull(prefix='jobs')
      cache.incr('counter', 10)
      cache.push('from-python', prefix='jobs')
      out([[enc(k), enc(v)] for k, v in (first, last, prefixed)])
      `,
      dir,
    );
    expect(pulled.map((pair) => pair.map(untag))).toEqual([
      [499999999999999, 'job-0'],
      [500000000000002, 3],
      ['jobs-500000000000000', 'p-1'],
    ]);
    expect(cache.get('counter')).toBe(13);
    expect(cache.pull()).toMatchObject({ key: 500000000000000, value: 'job-1' });
    expect(cache.pull({ prefix: 'jobs' })).toMatchObject({ key: 'jobs-500000000000001', value: 'p-2', tag: 'queued' });
    expect(cache.pull({ prefix: 'jobs' })).toMatchObject({ key: 'jobs-500000000000002', value: 'from-python' });
    expect(cache.check()).toEqual([]);
    metadataMatchesRows(dir);
    cache.close();
  });

  it('Node opens a cache Python created, and both keep writing it in turn', () => {
    const dir = tempDir('py-python-writes');
    const created = py<{ expire: number; fileBytes: Tagged; fileText: Tagged }>(
      `
      cache = diskcache.Cache(ARGS[0])
      cache['str'] = 'py string ü'
      cache['bytes'] = b'\\x00\\xffpy'
      cache['int'] = 12345678901234567
      cache['negative'] = -3
      cache['float'] = 0.1
      cache['whole-float'] = 2.0
      cache.set('tagged', 'with tag', expire=600, tag='py-tag')
      cache['file-bytes'] = bytes(range(256)) * 200
      cache['file-text'] = 'ß€' * 20000
      cache[-7] = 'int key'
      cache[-2.5] = 'float key'
      cache[b'bk'] = 'bytes key'
      cache.push('q1')
      cache.push('q2')
      cache.push('pq', prefix='py')
      cache.incr('hits', 5)
      _, expire = cache.get('tagged', expire_time=True)
      out({'expire': expire, 'fileBytes': enc(cache['file-bytes']), 'fileText': enc(cache['file-text'])})
      `,
      dir,
    );
    const triggers = () => sqlRows(dir, "SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").map(([sql]) => sql as string);
    expect(triggers()).toHaveLength(5);
    expect(triggers().every((sql) => sql.includes('"count"') || sql.includes('"size"'))).toBe(true);

    const cache = new Cache(dir);
    // Python's double-quoted literals fail under better-sqlite3 (DQS=0): Node rewrote them.
    expect(triggers()).toHaveLength(5);
    for (const sql of triggers()) {
      expect(sql).not.toContain('"');
      expect(sql).toMatch(/WHERE key = '(count|size)'/);
    }
    expect(cache.get('str')).toBe('py string ü');
    expect(cache.get('bytes')).toEqual(Buffer.from([0, 0xff, 0x70, 0x79]));
    expect(cache.get('int')).toBe(12345678901234567n);
    expect(cache.get('negative')).toBe(-3);
    expect(cache.get('float')).toBe(0.1);
    expect(cache.get('whole-float')).toBe(2);
    expect(cache.getEntry('tagged')).toEqual({ key: 'tagged', value: 'with tag', expireTime: created.expire, tag: 'py-tag' });
    expect(cache.get('file-bytes')).toEqual(untag(created.fileBytes));
    expect(cache.get('file-text')).toBe(untag(created.fileText));
    expect(cache.get(-7)).toBe('int key');
    expect(cache.get(-2.5)).toBe('float key');
    expect(cache.get(Buffer.from('bk'))).toBe('bytes key');
    expect(cache.peek()).toMatchObject({ key: 500000000000000, value: 'q1' });
    expect(cache.peek({ prefix: 'py' })).toMatchObject({ key: 'py-500000000000000', value: 'pq' });
    expect(cache.incr('hits')).toBe(6);
    expect(cache.size).toBe(16);

    // Node writes more and deletes, including a file-backed value of Python's.
    const fileBytesPath = sqlRows(dir, "SELECT filename FROM Cache WHERE key = 'file-bytes'")[0]![0] as string;
    const nodeFile = randomBytes(50_000);
    cache.set('node-str', 'from node ✓');
    cache.set('node-file', nodeFile, { tag: 'node', expire: 120 });
    cache.set('str', 'overwritten by node');
    expect(cache.delete('file-bytes')).toBe(true);
    expect(cache.delete('bytes')).toBe(true);
    expect(fs.existsSync(path.join(dir, fileBytesPath))).toBe(false);
    expect(cache.push('q3')).toBe(500000000000002);
    metadataMatchesRows(dir);
    expect(cache.check()).toEqual([]);

    const seen = py<{ entries: PyEntry[]; len: number; queue: Tagged[]; warnings: string[] }>(
      `
      cache = diskcache.Cache(ARGS[0])
      keys = ['node-str', 'node-file', 'str', 'file-bytes', 'bytes', 'hits']
      entries = [entry(cache, key) for key in keys]
      length = len(cache)
      queue = [enc(cache.pull()[1]) for _ in range(3)]
      out({'entries': entries, 'len': length, 'queue': queue, 'warnings': warnings_of(cache)})
      `,
      dir,
    );
    expect(seen.entries).toEqual([
      [tag('from node ✓'), null, tag(null)],
      [tag(nodeFile), cache.getEntry('node-file')!.expireTime, tag('node')],
      [tag('overwritten by node'), null, tag(null)],
      null,
      null,
      [tag(6), null, tag(null)],
    ]);
    expect(seen.len).toBe(17);
    expect(seen.queue.map(untag)).toEqual(['q1', 'q2', 'q3']);
    expect(seen.warnings).toEqual([]);
    expect(cache.size).toBe(14);

    // Alternate: Python writes, Node reads and writes, Python reads..., on one open Node cache.
    for (let round = 1; round <= 4; round++) {
      const big = round % 2 === 1; // file-backed values on odd rounds for Python, even ones for Node
      const python = py<{ previous: PyEntry; shared: number; len: number; warnings: string[] }>(
        `
        cache = diskcache.Cache(ARGS[0])
        round = int(ARGS[1])
        value = bytes([round]) * 40000 if ARGS[2] == 'big' else 'py-%d' % round
        cache.set('py-%d' % round, value, tag=round)
        cache.delete('node-%d' % (round - 2))
        previous = entry(cache, 'node-%d' % (round - 1))
        shared = cache.incr('shared')
        out({'previous': previous, 'shared': shared, 'len': len(cache), 'warnings': warnings_of(cache)})
        `,
        dir,
        String(round),
        big ? 'big' : 'small',
      );
      expect(python.warnings).toEqual([]);
      expect(python.shared).toBe(2 * round - 1);
      expect(python.len).toBe(cache.size);
      if (round > 1) expect(python.previous).toEqual(nodeEntry(cache, `node-${round - 1}`));
      expect(cache.has(`node-${round - 2}`)).toBe(false);

      expect(cache.getEntry(`py-${round}`)).toEqual({
        key: `py-${round}`,
        value: big ? Buffer.alloc(40_000, round) : `py-${round}`,
        expireTime: null,
        tag: round,
      });
      cache.set(`node-${round}`, big ? `node-${round}` : Buffer.alloc(40_000, round + 100));
      cache.delete(`py-${round - 1}`);
      expect(cache.incr('shared')).toBe(2 * round);
      metadataMatchesRows(dir);
      expect(cache.check()).toEqual([]);
    }
    const final = pythonSummary(dir);
    expect(final.warnings).toEqual([]);
    expect(final.len).toBe(cache.size);
    expect(final.keys).toEqual([...cache.keys()].map(tag));
    cache.close();
  });
});
