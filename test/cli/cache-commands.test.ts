/**
 * The cache commands of the `diskcache` CLI, run as real processes against directories filled
 * (and checked) through the Cache API: human and --json output, and values round-tripping.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Cache, JSONDisk } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { MAIN, runCli, runJson } from './run-cli.js';

function filled(
  entries: [unknown, unknown][] = [],
  options: ConstructorParameters<typeof Cache>[1] = {},
): string {
  const dir = tempDir('cli');
  const cache = new Cache(dir, options);
  for (const [key, value] of entries) cache.set(key, value);
  cache.close();
  return dir;
}

function read<T>(dir: string, body: (cache: Cache) => T): T {
  const cache = new Cache(dir);
  try {
    return body(cache);
  } finally {
    cache.close();
  }
}

describe('stats', () => {
  it('shows entries, volume, hits/misses and settings, as text and as JSON', async () => {
    const dir = filled(
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ],
      { statistics: true, sizeLimit: 5_000_000 },
    );
    read(dir, (cache) => {
      cache.get('a');
      cache.get('missing');
    });
    const text = await runCli(['-d', dir, 'stats']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^entries\s+3$/m);
    expect(text.stdout).toMatch(/^hits\s+1$/m);
    expect(text.stdout).toMatch(/^misses\s+1$/m);
    expect(text.stdout).toMatch(/^size_limit\s+5000000$/m);
    expect(text.stdout).toMatch(/^eviction_policy\s+least-recently-stored$/m);
    expect(text.stdout).toContain(dir);

    const json = await runJson<{
      entries: number;
      volume: number;
      hits: number;
      misses: number;
      directory: string;
      settings: Record<string, unknown>;
    }>(['-d', dir, 'stats']);
    expect(json).toMatchObject({ entries: 3, hits: 1, misses: 1, directory: dir });
    expect(json.volume).toBe(read(dir, (cache) => cache.volume()));
    expect(json.settings).toMatchObject({
      size_limit: 5_000_000,
      statistics: 1,
      eviction_policy: 'least-recently-stored',
    });
  });

  it('reads the directory from DISKCACHE_DIR when --dir is not given', async () => {
    const dir = filled([['k', 'v']]);
    const result = await runCli(['--json', 'stats'], { env: { DISKCACHE_DIR: dir } });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).entries).toBe(1);
  });
});

describe('keys', () => {
  const entries: [unknown, unknown][] = [
    ['pear', 1],
    [10, 2],
    ['apple', 3],
    [2.5, 4],
    [Buffer.from([1, 2]), 5],
  ];

  it('lists keys in insertion order, one per line, strings as they are', async () => {
    const dir = filled(entries);
    const result = await runCli(['-d', dir, 'keys']);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual(['pear', '10', 'apple', '2.5', '<2 bytes> 0102', '']);
  });

  it('--json gives the keys with their types; --sorted, --reverse and --limit', async () => {
    const dir = filled(entries);
    expect((await runJson<{ keys: unknown[] }>(['-d', dir, 'keys'])).keys).toEqual([
      'pear',
      10,
      'apple',
      2.5,
      { type: 'Buffer', base64: 'AQI=' },
    ]);
    expect((await runJson<{ keys: unknown[] }>(['-d', dir, 'keys', '--reverse'])).keys[0]).toEqual({
      type: 'Buffer',
      base64: 'AQI=',
    });
    const sorted = await runJson<{ keys: unknown[] }>(['-d', dir, 'keys', '--sorted']);
    expect(sorted.keys).toEqual([2.5, 10, 'apple', 'pear', { type: 'Buffer', base64: 'AQI=' }]);
    const sortedReverse = await runJson<{ keys: unknown[] }>([
      '-d',
      dir,
      'keys',
      '--sorted',
      '--reverse',
      '--limit',
      '2',
    ]);
    expect(sortedReverse).toEqual({
      count: 2,
      truncated: true,
      keys: [{ type: 'Buffer', base64: 'AQI=' }, 'pear'],
    });
    expect(await runJson(['-d', dir, 'keys', '--limit', '5'])).toMatchObject({
      count: 5,
      truncated: false,
    });
  });

  it('says on stderr, not stdout, that the list was cut', async () => {
    const dir = filled(entries);
    const result = await runCli(['-d', dir, 'keys', '--limit', '1']);
    expect(result.stdout).toBe('pear\n');
    expect(result.stderr).toContain('--limit');
  });

  it('stops quietly with exit 0 when the reader closes the pipe early (keys | head)', async () => {
    const dir = filled();
    read(dir, (cache) =>
      cache.transact(() => {
        for (let i = 0; i < 50_000; i++) cache.set(`a-rather-long-key-number-${i}`, i);
      }),
    );
    // Far more than a pipe buffer (64 KiB) of output, so that the writer meets the closed pipe.
    const child = spawn(process.execPath, [MAIN, '-d', dir, 'keys'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const first = await new Promise<string>((resolve) =>
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(first.startsWith('a-rather-long-key-number-0\n')).toBe(true);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('prints nothing for an empty cache', async () => {
    const dir = filled();
    const result = await runCli(['-d', dir, 'keys']);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(await runJson(['-d', dir, 'keys'])).toEqual({ count: 0, truncated: false, keys: [] });
  });
});

describe('get', () => {
  it('shows each kind of value readably, and exactly in JSON', async () => {
    const big = Buffer.alloc(100_000, 7);
    const dir = filled([
      ['text', 'hello world'],
      ['bytes', Buffer.from('hello')],
      ['big-bytes', big],
      ['bigint', 2n ** 70n],
      ['float', 1.5],
      ['map', new Map([['a', 1]])],
      ['object', { list: [1, 2], nested: { ok: true } }],
      ['long-text', 'x'.repeat(40_000)],
    ]);
    const human = async (key: string) => {
      const result = await runCli(['-d', dir, 'get', key]);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };
    const json = async (key: string) =>
      (await runJson<{ value: unknown }>(['-d', dir, 'get', key])).value;
    // Each command is a process of its own: all of them at once.
    const readably: [string, string][] = [
      ['text', 'hello world\n'],
      ['bytes', '<5 bytes> 68656c6c6f\n'],
      ['big-bytes', `<100000 bytes> ${'07'.repeat(32)}…\n`],
      ['bigint', '1180591620717411303424n\n'],
      ['float', '1.5\n'],
      ['map', "Map(1) { 'a' => 1 }\n"],
      ['object', '{ list: [ 1, 2 ], nested: { ok: true } }\n'],
      ['long-text', `${'x'.repeat(40_000)}\n`],
    ];
    const exactly: [string, unknown][] = [
      ['text', 'hello world'],
      ['bytes', { type: 'Buffer', base64: Buffer.from('hello').toString('base64') }],
      ['big-bytes', { type: 'Buffer', base64: big.toString('base64') }],
      ['bigint', '1180591620717411303424'],
      ['map', { type: 'Map', entries: [['a', 1]] }],
      ['object', { list: [1, 2], nested: { ok: true } }],
    ];
    const [shown, values] = await Promise.all([
      Promise.all(readably.map(([key]) => human(key))),
      Promise.all(exactly.map(([key]) => json(key))),
    ]);
    expect(shown).toEqual(readably.map(([, text]) => text));
    expect(values).toEqual(exactly.map(([, value]) => value));
  });

  it('--json includes the key, the expiry time and the tag', async () => {
    const dir = filled();
    const before = Date.now() / 1000;
    read(dir, (cache) => cache.set('k', 'v', { expire: 100, tag: 'blue' }));
    const entry = await runJson<{ key: string; value: string; expireTime: number; tag: string }>([
      '-d',
      dir,
      'get',
      'k',
    ]);
    expect(entry).toMatchObject({ key: 'k', value: 'v', tag: 'blue' });
    expect(entry.expireTime).toBeGreaterThanOrEqual(before + 100);
    expect(entry.expireTime).toBeLessThan(Date.now() / 1000 + 100);
  });

  it('--raw writes a string or bytes value as it is, with no newline', async () => {
    const bytes = Buffer.from([0, 255, 10, 13, 128]);
    const dir = filled([
      ['bytes', bytes],
      ['text', 'line\n'],
      ['number', 5],
    ]);
    expect((await runCli(['-d', dir, 'get', 'bytes', '--raw'])).stdoutBytes).toEqual(bytes);
    expect((await runCli(['-d', dir, 'get', 'text', '--raw'])).stdout).toBe('line\n');
    const refused = await runCli(['-d', dir, 'get', 'number', '--raw']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
  });

  it('reads keys of other types with --int-key and --key-type', async () => {
    const dir = filled([
      [42, 'int'],
      [2n ** 60n, 'bigint'],
      [-3, 'negative'],
      [0.25, 'float'],
      [['a', 1], 'array'],
      [{ b: 2, a: 1 }, 'object'],
      ['42', 'string'],
    ]);
    const value = async (...args: string[]) =>
      (await runJson<{ value: string }>(['-d', dir, 'get', ...args])).value;
    const cases: [string[], string][] = [
      [['42', '--int-key'], 'int'],
      [['42', '--key-type', 'int'], 'int'],
      [['42'], 'string'],
      [[String(2n ** 60n), '--int-key'], 'bigint'],
      [['--int-key', '--', '-3'], 'negative'],
      [['0.25', '--key-type', 'float'], 'float'],
      [['["a", 1]', '--key-type', 'json'], 'array'],
      [['{"a": 1, "b": 2}', '--key-type', 'json'], 'object'],
    ];
    // Each command is a process of its own: all of them at once.
    const found = await Promise.all(cases.map(([args]) => value(...args)));
    expect(found).toEqual(cases.map(([, expected]) => expected));
  });

  it('reads a JSONDisk cache with --disk json', async () => {
    const dir = tempDir('cli-jsondisk');
    const cache = new Cache(dir, { disk: JSONDisk });
    cache.set({ user: 7 }, { name: 'ada', langs: ['en'] });
    cache.close();
    const entry = await runJson<{ value: unknown }>([
      '-d',
      dir,
      '--disk',
      'json',
      'get',
      '--key-type',
      'json',
      '{"user": 7}',
    ]);
    expect(entry.value).toEqual({ name: 'ada', langs: ['en'] });
  });
});

describe('set', () => {
  it('stores strings by default and JSON documents with --json-value, with their types', async () => {
    const dir = tempDir('cli-set');
    const cases: [string[], unknown, unknown][] = [
      [['s', '42'], 's', '42'],
      [['n', '42', '--json-value'], 'n', 42],
      [['f', '-1.25', '--json-value'], 'f', -1.25],
      [['t', 'true', '--json-value'], 't', true],
      [['z', 'null', '--json-value'], 'z', null],
      [['q', '"quoted"', '--json-value'], 'q', 'quoted'],
      [['o', '{"a": [1, {"b": null}]}', '--json-value'], 'o', { a: [1, { b: null }] }],
      [['7', 'seven', '--int-key'], 7, 'seven'],
      [['[1, "x"]', 'structured', '--key-type', 'json'], [1, 'x'], 'structured'],
      [['unicode ✓', 'ünïcödé 😀'], 'unicode ✓', 'ünïcödé 😀'],
    ];
    for (const [args] of cases) {
      const result = await runCli(['-d', dir, 'set', ...args]);
      expect(result.code, result.stderr).toBe(0);
    }
    read(dir, (cache) => {
      for (const [, key, value] of cases) expect(cache.get(key)).toEqual(value);
      expect(typeof cache.get('n')).toBe('number');
      expect(typeof cache.get('s')).toBe('string');
    });
  });

  it('creates the cache directory, and stores the expiry and the tag', async () => {
    const dir = path.join(tempDir('cli-set'), 'new', 'cache');
    const before = Date.now() / 1000;
    const result = await runCli(['-d', dir, 'set', 'k', 'v', '--expire', '30', '--tag', 'batch-1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^stored k, expires .*\(in (29|30) s\), tag batch-1\n$/);
    const entry = read(dir, (cache) => cache.getEntry('k'));
    expect(entry).toMatchObject({ value: 'v', tag: 'batch-1' });
    expect(entry!.expireTime).toBeGreaterThanOrEqual(before + 30);
    expect(entry!.expireTime).toBeLessThanOrEqual(Date.now() / 1000 + 30);
  });

  it('--tag-type int stores an integer tag that evict --tag-type int finds', async () => {
    const dir = filled();
    expect(
      (await runCli(['-d', dir, 'set', 'a', '1', '--tag', '5', '--tag-type', 'int'])).code,
    ).toBe(0);
    expect(read(dir, (cache) => cache.getEntry('a')?.tag)).toBe(5);
    expect(await runJson(['-d', dir, 'evict', '5'])).toEqual({ tag: '5', removed: 0 });
    expect(await runJson(['-d', dir, 'evict', '5', '--tag-type', 'int'])).toEqual({
      tag: 5,
      removed: 1,
    });
  });

  it('--json reports what was stored', async () => {
    const dir = filled();
    const doc = await runJson([
      '-d',
      dir,
      'set',
      '--int-key',
      '9007199254740993',
      '{"x": 1}',
      '--json-value',
    ]);
    expect(doc).toEqual({ key: '9007199254740993', stored: true, expireTime: null, tag: null });
    expect(read(dir, (cache) => cache.get(9007199254740993n))).toEqual({ x: 1 });
  });
});

describe('delete', () => {
  it('deletes a key and says so', async () => {
    const dir = filled([
      ['a', 1],
      [3, 'three'],
    ]);
    const result = await runCli(['-d', dir, 'delete', 'a']);
    expect(result).toMatchObject({ code: 0, stdout: 'deleted a\n' });
    expect(await runJson(['-d', dir, 'delete', '3', '--int-key'])).toEqual({
      key: 3,
      deleted: true,
    });
    expect(read(dir, (cache) => cache.size)).toBe(0);
  });
});

describe('expire, evict, cull, clear', () => {
  it('expire removes only the expired entries', async () => {
    // cullLimit 0: the writes below must not cull the expired entries themselves.
    const dir = filled([['live', 1]], { cullLimit: 0 });
    read(dir, (cache) => {
      cache.set('old-1', 1, { expire: -10 });
      cache.set('old-2', 2, { expire: -10 });
      cache.set('later', 3, { expire: 3600 });
    });
    const result = await runCli(['-d', dir, 'expire']);
    expect(result).toMatchObject({ code: 0, stdout: 'removed 2 expired entries\n' });
    expect(read(dir, (cache) => [...cache.keys()])).toEqual(['live', 'later']);
    expect(await runJson(['-d', dir, 'expire'])).toEqual({ removed: 0 });
  });

  it('evict removes the entries with the tag', async () => {
    const dir = filled();
    read(dir, (cache) => {
      for (let i = 0; i < 150; i++) cache.set(`red-${i}`, i, { tag: 'red' });
      cache.set('blue', 0, { tag: 'blue' });
      cache.set('none', 0);
    });
    const result = await runCli(['-d', dir, 'evict', 'red']);
    expect(result).toMatchObject({ code: 0, stdout: 'removed 150 entries tagged red\n' });
    expect(read(dir, (cache) => [...cache.keys()])).toEqual(['blue', 'none']);
  });

  it('cull brings the volume within size_limit, oldest first', async () => {
    const dir = tempDir('cli-cull');
    const cache = new Cache(dir, { sizeLimit: 150_000, cullLimit: 0, minFileSize: 1000 });
    for (let i = 0; i < 20; i++) cache.set(`k${i}`, Buffer.alloc(10_000, i));
    cache.close();
    const doc = await runJson<{ removed: number; volume: number; sizeLimit: number }>([
      '-d',
      dir,
      'cull',
    ]);
    expect(doc.sizeLimit).toBe(150_000);
    expect(doc.removed).toBeGreaterThanOrEqual(5);
    expect(doc.removed).toBeLessThan(20);
    expect(doc.volume).toBeLessThanOrEqual(150_000);
    const keys = read(dir, (c) => [...c.keys()]);
    expect(keys).toEqual(Array.from({ length: 20 - doc.removed }, (_, i) => `k${i + doc.removed}`));
  });

  it('clear needs --yes when there is no terminal to ask on, then removes everything', async () => {
    const dir = filled([
      ['a', 1],
      ['b', Buffer.alloc(50_000)],
    ]);
    const refused = await runCli(['-d', dir, 'clear']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(read(dir, (cache) => cache.size)).toBe(2);
    const result = await runCli(['-d', dir, 'clear', '--yes']);
    expect(result).toMatchObject({ code: 0, stdout: 'removed 2 entries\n' });
    expect(read(dir, (cache) => cache.size)).toBe(0);
    expect(await runJson(['-d', dir, 'clear', '-y'])).toEqual({ removed: 0 });
    // The value file went with its entry.
    expect(fs.readdirSync(dir).filter((name) => !name.startsWith('cache.db'))).toEqual([]);
  });
});

describe('check', () => {
  it('reports a healthy cache as such', async () => {
    const dir = filled([['a', Buffer.alloc(40_000)]]);
    expect(await runCli(['-d', dir, 'check'])).toMatchObject({
      code: 0,
      stdout: 'no problems found\n',
    });
    expect(await runJson(['-d', dir, 'check'])).toEqual({ ok: true, fixed: false, warnings: [] });
  });

  it('exits 3 on problems, --fix repairs them, and a second check is clean', async () => {
    const dir = filled([
      ['lost', Buffer.alloc(40_000, 1)],
      ['kept', Buffer.alloc(40_000, 2)],
    ]);
    // Removing the file leaves its directory empty: a third problem.
    fs.rmSync(valueFileOf(dir, 'lost'));
    fs.writeFileSync(path.join(dir, 'stray.val'), 'nobody refers to me');
    // Older than check's grace period for unknown files (a fresh one may be a write in progress).
    const past = new Date(Date.now() - 10 * 60_000);
    fs.utimesSync(path.join(dir, 'stray.val'), past, past);

    const found = await runCli(['-d', dir, 'check']);
    expect(found.code).toBe(3);
    expect(found.stdout).toMatch(/^3 problems found:\n/);
    expect(found.stdout).toMatch(/^empty-dir\s+empty directory: /m);
    expect(found.stdout).toMatch(/^file-not-found\s+file not found: /m);
    expect(found.stdout).toMatch(/^unknown-file\s+unknown file: .*stray\.val$/m);
    expect(found.stderr).toContain('check --fix');
    const json = await runJson<{ ok: boolean; warnings: { kind: string }[] }>(
      ['-d', dir, 'check'],
      3,
    );
    expect(json.ok).toBe(false);
    expect(json.warnings.map((w) => w.kind).sort()).toEqual([
      'empty-dir',
      'file-not-found',
      'unknown-file',
    ]);

    const fixed = await runJson<{
      ok: boolean;
      fixed: boolean;
      warnings: unknown[];
      remaining: unknown[];
    }>(['-d', dir, 'check', '--fix']);
    expect(fixed).toMatchObject({ ok: true, fixed: true, remaining: [] });
    expect(fixed.warnings.length).toBeGreaterThanOrEqual(3);
    expect(await runCli(['-d', dir, 'check'])).toMatchObject({
      code: 0,
      stdout: 'no problems found\n',
    });
    expect(read(dir, (cache) => [...cache.keys()])).toEqual(['kept']);
    expect(fs.existsSync(path.join(dir, 'stray.val'))).toBe(false);
  });
});

/** The value file of a string key, read from the Cache table. */
function valueFileOf(dir: string, key: string): string {
  const db = new Database(path.join(dir, 'cache.db'), { readonly: true });
  try {
    const filename = db
      .prepare('SELECT filename FROM Cache WHERE key = ? AND raw = 1')
      .pluck()
      .get(key) as string;
    return path.join(dir, filename);
  } finally {
    db.close();
  }
}
