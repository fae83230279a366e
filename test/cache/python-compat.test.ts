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
import {
  metadata,
  nodeEntry,
  type PyEntry,
  py,
  pythonEntries,
  pythonSummary,
  sqlRows,
  type Tagged,
  tag,
  tagJson,
  untag,
} from '../fixtures/python-compat.js';
import { findPython, pythonTitle } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

/** Settings.count and .size agree with the rows they summarise. */
function metadataMatchesRows(directory: string): void {
  const { count, rows, size, sum } = metadata(directory);
  expect(count).toBe(rows);
  expect(size).toBe(sum);
}

describe.skipIf(!findPython())(pythonTitle(`python-diskcache compatibility`), () => {
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
    expect(pushed).toEqual([
      500000000000000,
      500000000000001,
      500000000000002,
      499999999999999,
      'jobs-500000000000000',
      'jobs-500000000000001',
    ]);
    cache.incr('counter');
    cache.incr('counter', 2);
    cache.decr('down', 5);
    cache.incr('big-counter', 2n ** 62n);
    cache.incr('big-counter', 1);
    cache.incr('float-counter', 1.5);

    // The file-backed paths are really exercised: text file, binary file, INTEGER and REAL columns.
    const column = (key: unknown) =>
      sqlRows(dir, 'SELECT mode, typeof(value) FROM Cache WHERE key = ?', key)[0];
    expect(column('long-text')).toEqual([3n, 'null']);
    expect(column('big-bytes')).toEqual([2n, 'null']);
    expect(column('int')).toEqual([1n, 'integer']);
    expect(column('float')).toEqual([1n, 'real']);
    expect(column('big-counter')).toEqual([1n, 'integer']);
    expect(column('near-2**62')).toEqual([1n, 'integer']);

    const keys = [
      ...written.map(([key]) => key),
      ...pushed,
      'counter',
      'down',
      'big-counter',
      'float-counter',
      'never-written',
    ];
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
    expect(python[keys.indexOf('big-counter')]![0]).toEqual({
      t: 'int',
      v: String(2n ** 62n + 1n),
    });
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
    expect(cache.pull({ prefix: 'jobs' })).toMatchObject({
      key: 'jobs-500000000000001',
      value: 'p-2',
      tag: 'queued',
    });
    expect(cache.pull({ prefix: 'jobs' })).toMatchObject({
      key: 'jobs-500000000000002',
      value: 'from-python',
    });
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
    const triggers = () =>
      sqlRows(dir, "SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").map(
        ([sql]) => sql as string,
      );
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
    expect(cache.getEntry('tagged')).toEqual({
      key: 'tagged',
      value: 'with tag',
      expireTime: created.expire,
      tag: 'py-tag',
    });
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
    const fileBytesPath = sqlRows(
      dir,
      "SELECT filename FROM Cache WHERE key = 'file-bytes'",
    )[0]![0] as string;
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

  it('settings cross over under diskcache names and SQLite types, both ways', () => {
    // A fresh cache of each language: the same Settings rows, types, schema and pragmas.
    const pyDir = tempDir('py-settings-fresh');
    const nodeDir = tempDir('node-settings-fresh');
    py('diskcache.Cache(ARGS[0]).close()\nout(None)', pyDir);
    new Cache(nodeDir).close();
    const layout = (dir: string) => ({
      settings: sqlRows(dir, 'SELECT key, typeof(value), value FROM Settings ORDER BY key'),
      schema: sqlRows(dir, 'SELECT type, name, sql FROM sqlite_master ORDER BY type, name').map(
        ([type, name, sql]) => [
          type,
          name,
          typeof sql === 'string' ? sql.replaceAll('"', "'") : sql,
        ],
      ),
      pragmas: sqlRows(
        dir,
        'SELECT * FROM pragma_auto_vacuum, pragma_journal_mode, pragma_page_size',
      ),
    });
    const python = layout(pyDir);
    expect(layout(nodeDir)).toEqual(python);
    expect(python.settings).toContainEqual(['size_limit', 'integer', 2n ** 30n]);
    expect(python.settings).toContainEqual(['eviction_policy', 'text', 'least-recently-stored']);

    // Node sets them; Python, passing nothing, inherits them.
    const dir = tempDir('py-settings');
    const cache = new Cache(dir, {
      sizeLimit: 5_000_000,
      evictionPolicy: 'least-recently-used',
      cullLimit: 3,
      statistics: true,
      tagIndex: true,
      minFileSize: 1024,
    });
    const names = [
      'size_limit',
      'eviction_policy',
      'cull_limit',
      'statistics',
      'tag_index',
      'disk_min_file_size',
    ];
    const seen = py<{ values: Tagged[]; minFileSize: number; indexes: string[] }>(
      `
      cache = diskcache.Cache(ARGS[0])
      cache.set('py-small-file', b'x' * 2000)
      indexes = [name for (name,) in cache._sql("SELECT name FROM sqlite_master WHERE type = 'index'")]
      out({'values': [enc(getattr(cache, name)) for name in json.loads(ARGS[1])],
           'minFileSize': cache.disk.min_file_size, 'indexes': sorted(indexes)})
      `,
      dir,
      JSON.stringify(names),
    );
    expect(seen.values.map(untag)).toEqual([5_000_000, 'least-recently-used', 3, 1, 1, 1024]);
    expect(seen.values.map((value) => value.t)).toEqual(['int', 'str', 'int', 'int', 'int', 'int']);
    expect(seen.minFileSize).toBe(1024);
    expect(seen.indexes).toEqual(expect.arrayContaining(['Cache_access_time', 'Cache_tag_rowid']));
    expect(sqlRows(dir, "SELECT mode FROM Cache WHERE key = 'py-small-file'")).toEqual([[2n]]);
    expect(cache.get('py-small-file')).toEqual(Buffer.alloc(2000, 'x'));
    const types = Object.fromEntries(
      sqlRows(dir, 'SELECT key, typeof(value) FROM Settings') as [string, string][],
    );
    expect(types).toMatchObject({
      size_limit: 'integer',
      cull_limit: 'integer',
      eviction_policy: 'text',
      statistics: 'integer',
    });

    // reset() from either side reaches the other.
    expect(cache.reset('cull_limit', 4)).toBe(4);
    const afterReset = py<Tagged[]>(
      `
      cache = diskcache.Cache(ARGS[0])
      seen = enc(cache.cull_limit)
      cache.reset('size_limit', 123456)
      out([seen, enc(cache.size_limit)])
      `,
      dir,
    );
    expect(afterReset).toEqual([tag(4), tag(123456)]);
    expect(cache.reset('size_limit')).toBe(123456);
    expect(cache.settings.size_limit).toBe(123456);
    cache.close();

    // A pragma setting Node stores is applied by Python's connection too.
    const walDir = tempDir('py-settings-wal');
    new Cache(walDir, { sqlite: { walAutocheckpoint: 3000 } }).close();
    const walAutocheckpoint = py<number>(
      `
      cache = diskcache.Cache(ARGS[0])
      out(cache._sql('PRAGMA wal_autocheckpoint').fetchone()[0])
      `,
      walDir,
    );
    expect(walAutocheckpoint).toBe(3000);

    // Python sets them; Node, passing nothing, inherits them (and acts on them).
    const pyMade = tempDir('py-settings-python');
    py(
      `
      diskcache.Cache(ARGS[0], size_limit=7000000, eviction_policy='least-frequently-used', cull_limit=0,
                      disk_min_file_size=1024, statistics=1).close()
      out(None)
      `,
      pyMade,
    );
    const inherited = new Cache(pyMade);
    expect(inherited.settings).toMatchObject({
      size_limit: 7_000_000,
      eviction_policy: 'least-frequently-used',
      cull_limit: 0,
      disk_min_file_size: 1024,
      statistics: 1,
    });
    inherited.set('node-small-file', Buffer.alloc(2000, 'n'));
    expect(sqlRows(pyMade, "SELECT mode FROM Cache WHERE key = 'node-small-file'")).toEqual([[2n]]);
    inherited.get('node-small-file');
    inherited.get('absent');
    expect(inherited.stats()).toEqual({ hits: 1, misses: 1 });
    // LFU counts the hit in access_count, as Python's policy does.
    expect(sqlRows(pyMade, "SELECT access_count FROM Cache WHERE key = 'node-small-file'")).toEqual(
      [[1n]],
    );
    expect(py('out(diskcache.Cache(ARGS[0]).stats(enable=False))', pyMade)).toEqual([1, 1]);
    inherited.close();
  });

  it("Python's Deque and Index read queues Node pushed, and Node pulls what they wrote", () => {
    const dir = tempDir('py-deque');
    const cache = new Cache(dir);
    cache.push('a');
    cache.push(1);
    cache.push(Buffer.from('bytes'));
    cache.push('first', { side: 'front' });
    const seen = py<{ deque: Tagged[]; index: Tagged[][]; popped: Tagged }>(
      `
      deque = diskcache.Deque(directory=ARGS[0])
      index = diskcache.Index(ARGS[0])
      out({'deque': [enc(v) for v in deque], 'index': [[enc(k), enc(v)] for k, v in index.items()],
           'popped': enc(deque.popleft())})
      `,
      dir,
    );
    expect(seen.deque.map(untag)).toEqual(['first', 'a', 1, Buffer.from('bytes')]);
    expect(seen.index.map((pair) => pair.map(untag))).toEqual([
      [500000000000000, 'a'],
      [500000000000001, 1],
      [500000000000002, Buffer.from('bytes')],
      [499999999999999, 'first'],
    ]);
    expect(seen.popped).toEqual(tag('first'));
    expect(cache.pull()).toMatchObject({ key: 500000000000000, value: 'a' });
    cache.close();

    // The other way: Python's Deque and Index write, Node reads and pulls.
    const dequeDir = tempDir('py-deque-python');
    const indexDir = tempDir('py-index-python');
    py(
      `
      deque = diskcache.Deque(['p1', 2, 2.5], directory=ARGS[0])
      deque.appendleft('p0')
      deque.append(b'p3')
      index = diskcache.Index(ARGS[1], [('x', 1), ('y', 'two'), (3, 3.5)])
      out(None)
      `,
      dequeDir,
      indexDir,
    );
    const fromDeque = new Cache(dequeDir);
    expect(fromDeque.settings.eviction_policy).toBe('none');
    expect(fromDeque.peek({ side: 'back' })).toMatchObject({
      key: 500000000000003,
      value: Buffer.from('p3'),
    });
    const pulled: unknown[] = [];
    for (let entry = fromDeque.pull(); entry !== undefined; entry = fromDeque.pull())
      pulled.push(entry.value);
    expect(pulled).toEqual(['p0', 'p1', 2, 2.5, Buffer.from('p3')]);
    fromDeque.push('node-item');
    expect(py('out([enc(v) for v in diskcache.Deque(directory=ARGS[0])])', dequeDir)).toEqual([
      tag('node-item'),
    ]);
    fromDeque.close();

    const fromIndex = new Cache(indexDir);
    expect([...fromIndex.entries()]).toEqual([
      ['x', 1],
      ['y', 'two'],
      [3, 3.5],
    ]);
    fromIndex.set('z', 'node');
    fromIndex.delete('x');
    const items = py<Tagged[][]>(
      'out([[enc(k), enc(v)] for k, v in diskcache.Index(ARGS[0]).items()])',
      indexDir,
    );
    expect(items.map((pair) => pair.map(untag))).toEqual([
      ['y', 'two'],
      [3, 3.5],
      ['z', 'node'],
    ]);
    fromIndex.close();
  });

  it('Disk.hash gives the shard hash Python computes, for every native key type', () => {
    const dir = tempDir('py-hash');
    const disk = new Disk(dir, { minFileSize: 32768 });
    const keys: unknown[] = [
      '',
      'a',
      'key',
      'héllo wörld',
      '日本語のキー',
      '😀 emoji',
      'x'.repeat(10_000),
      0,
      1,
      -1,
      42,
      -(2 ** 31),
      2 ** 32 - 1,
      2 ** 32,
      2 ** 40 + 7,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      2n ** 62n,
      -(2n ** 63n),
      2n ** 63n - 1n,
      0.5,
      -1.5,
      Math.PI,
      1e300,
      5e-324,
      Number.POSITIVE_INFINITY,
      Buffer.alloc(0),
      Buffer.from([0, 255]),
      randomBytes(20_000),
    ];
    const python = py<number[]>(
      'disk = diskcache.Disk(ARGS[0])\nout([disk.hash(dec(k)) for k in json.loads(ARGS[1])])',
      dir,
      tagJson(keys),
    );
    expect(keys.map((key) => disk.hash(key))).toEqual(python);
    // Integers hash modulo 2**32 - 1 (not 2**32), non-negative, as Python's % does.
    expect(disk.hash(2 ** 32 - 1)).toBe(0);
    expect(disk.hash(-1)).toBe(2 ** 32 - 2);
  });

  it('JSONDisk caches are shared: values always, lookups by key where zlib agrees', () => {
    const value = { a: 1, b: [1, 2.5, 'x', null, true], c: { nested: 'ünï€😀' } };
    const bigValue = { data: randomBytes(50_000).toString('base64') }; // compressed, still a value file
    const dir = tempDir('py-jsondisk');
    const cache = new Cache(dir, { disk: JSONDisk });
    cache.set('k1', value);
    cache.set('big', bigValue, { tag: 'json', expire: 600 });
    cache.set(7, [1, 2, 3]);
    expect(sqlRows(dir, 'SELECT raw, typeof(key) FROM Cache')).toEqual(Array(3).fill([1n, 'blob']));
    expect(sqlRows(dir, "SELECT mode FROM Cache WHERE tag = 'json'")).toEqual([[2n]]);
    const fromNode = py<{ items: Tagged[][]; found: PyEntry[]; warnings: string[] }>(
      `
      cache = diskcache.Cache(ARGS[0], disk=diskcache.JSONDisk)
      out({'items': [[enc(k), enc(cache[k])] for k in cache], 'found': [entry(cache, 'k1'), entry(cache, 7)],
           'warnings': warnings_of(cache)})
      `,
      dir,
    );
    expect(fromNode.items.map((pair) => pair.map(untag))).toEqual([
      ['k1', value],
      ['big', bigValue],
      [7, [1, 2, 3]],
    ]);
    expect(fromNode.found).toEqual([
      [tag(value), null, tag(null)],
      [tag([1, 2, 3]), null, tag(null)],
    ]);
    expect(fromNode.warnings).toEqual([]);
    cache.close();

    // Python writes with JSONDisk; Node reads every key and value back.
    const pyDir = tempDir('py-jsondisk-python');
    py(
      `
      cache = diskcache.Cache(ARGS[0], disk=diskcache.JSONDisk)
      cache['short'] = {'from': 'python', 'list': [1, 2.5, None, False]}
      cache[('tuple', 'key')] = 'tuples become arrays'
      cache.set('expiring', 'é', expire=300, tag=5)
      out(None)
      `,
      pyDir,
    );
    const reader = new Cache(pyDir, { disk: JSONDisk });
    expect([...reader.entries()]).toEqual([
      ['short', { from: 'python', list: [1, 2.5, null, false] }],
      [['tuple', 'key'], 'tuples become arrays'],
      ['expiring', 'é'],
    ]);
    expect(reader.get('short')).toEqual({ from: 'python', list: [1, 2.5, null, false] });
    expect(reader.getEntry('expiring')).toMatchObject({ value: 'é', tag: 5 });
    reader.close();

    // With compress_level 0 (stored deflate blocks, identical in every zlib) any key is found both
    // ways, floats included (Python writes 1e-07 and 1.5e+20 where JSON.stringify does not).
    const key = {
      user: 'ann',
      roles: ['admin', 'admin', 'admin', 'editor', 'editor'],
      page: 12,
      score: [1e-7, 0.25, 1.5e20, -2.5e-10],
    };
    const pythonKey = ['list', 'list', 'list', 2.5e-8, 1e16];
    const level0 = tempDir('py-jsondisk-level0');
    const node0 = new Cache(level0, { disk: JSONDisk, diskOptions: { compress_level: 0 } });
    node0.set(key, 'from node');
    const both = py<[PyEntry, Tagged]>(
      `
      cache = diskcache.Cache(ARGS[0], disk=diskcache.JSONDisk)
      node_key, python_key = [dec(k) for k in json.loads(ARGS[1])]
      seen = entry(cache, node_key)
      cache[python_key] = 'from python'
      out([seen, enc(cache.disk.compress_level)])
      `,
      level0,
      tagJson([key, pythonKey]),
    );
    expect(both).toEqual([[tag('from node'), null, tag(null)], tag(0)]);
    expect(node0.get(pythonKey)).toBe('from python');
    expect(node0.size).toBe(2);
    node0.close();
  });

  it('Node-only formats never crash Python, and Python pickles never run code in Node', () => {
    const dir = tempDir('py-node-only');
    const cache = new Cache(dir);
    cache.set(['structured', 1], 'x');
    cache.set({ user: 1, tags: ['a'] }, 'object key');
    cache.set(true, 'boolean key');
    cache.set(null, 'null key');
    cache.set(2n ** 70n, 'huge bigint key');
    cache.set('map', new Map([[1, 2]]));
    cache.set('small-bigint', 5n);
    cache.set('nan', Number.NaN);
    cache.set('date', new Date(0));
    cache.set('big-v8', { data: Array.from({ length: 5000 }, (_, i) => i * 1.5) });
    cache.set('plain', 'shared');
    expect(
      sqlRows(dir, "SELECT mode, filename IS NOT NULL FROM Cache WHERE key = 'big-v8'"),
    ).toEqual([[4n, 1n]]);
    const seen = py<{
      len: number;
      warnings: string[];
      plain: PyEntry;
      has: boolean;
      errors: string[];
      deleted: boolean;
    }>(
      `
      import pickle
      cache = diskcache.Cache(ARGS[0])
      errors = []
      for attempt in (lambda: list(cache), lambda: cache.get('map'), lambda: cache.get('big-v8')):
          try:
              attempt()
              errors.append('none')
          except pickle.UnpicklingError as error:
              errors.append(type(error).__name__)
      out({'len': len(cache), 'warnings': warnings_of(cache), 'plain': entry(cache, 'plain'),
           'has': 'date' in cache, 'errors': errors, 'deleted': cache.delete('big-v8')})
      `,
      dir,
    );
    expect(seen).toEqual({
      len: 11,
      warnings: [],
      plain: [tag('shared'), null, tag(null)],
      has: true,
      errors: ['UnpicklingError', 'UnpicklingError', 'UnpicklingError'],
      deleted: true,
    });
    expect(cache.size).toBe(10);
    expect(cache.get({ tags: ['a'], user: 1 })).toBe('object key');
    expect(cache.get('small-bigint')).toBe(5n);
    expect(cache.check()).toEqual([]);
    cache.close();

    // Python pickles: keys come back as ForeignKey, code-carrying values throw UnsupportedValueError,
    // nothing runs.
    const pyDir = tempDir('py-pickles');
    const marker = path.join(tempDir('py-pickles-marker'), 'unpickled');
    py(
      `
      import os
      class Evil:
          def __reduce__(self):
              return (os.mkdir, (ARGS[1],))
      cache = diskcache.Cache(ARGS[0])
      cache[('tuple', 1)] = 'pickled key, raw value'
      cache[None] = 'none key'
      cache['list'] = [1, 2, 3]
      cache['evil'] = Evil()
      cache['big-pickle'] = list(range(20000))
      cache['text'] = 'readable'
      out(None)
      `,
      pyDir,
      marker,
    );
    const reader = new Cache(pyDir);
    const keys = [...reader.keys()];
    expect(keys.slice(2)).toEqual(['list', 'evil', 'big-pickle', 'text']);
    const [tupleKey, noneKey] = keys as [ForeignKey, ForeignKey];
    expect(tupleKey).toBeInstanceOf(ForeignKey);
    expect(noneKey).toBeInstanceOf(ForeignKey);
    expect(tupleKey.bytes[0]).toBe(0x80); // a pickle, protocol 2 or later
    expect(reader.get(tupleKey)).toBe('pickled key, raw value');
    expect(reader.disk.hash(noneKey)).toBe(
      py<number>('out(diskcache.Cache(ARGS[0]).disk.hash(None))', pyDir),
    );
    // Plain data is read by the safe pickle reader (test/cache/pickle*.test.ts); code never runs.
    expect(reader.get('list')).toEqual([1, 2, 3]);
    expect(reader.get('big-pickle')).toEqual(Array.from({ length: 20000 }, (_, i) => i));
    expect(() => reader.get('evil')).toThrow(UnsupportedValueError);
    expect(() => reader.get('evil')).toThrow(/opcode (STACK_)?GLOBAL .* can name or call code/);
    expect(tupleKey.decode()).toEqual(['tuple', 1]);
    expect(
      sqlRows(pyDir, "SELECT mode, filename IS NOT NULL FROM Cache WHERE key = 'big-pickle'"),
    ).toEqual([[4n, 1n]]);
    expect(fs.existsSync(marker)).toBe(false);
    expect(reader.get('text')).toBe('readable');
    expect(reader.delete(noneKey)).toBe(true);
    expect(reader.delete('evil')).toBe(true);
    expect(reader.check()).toEqual([]);
    expect(
      py<Tagged[]>('out([enc(k) for k in diskcache.Cache(ARGS[0])])', pyDir).map(untag),
    ).toEqual([['tuple', 1], 'list', 'big-pickle', 'text']);
    reader.close();
  });
});
