/**
 * `diskcache deque …` and `diskcache index …`, run as real processes against directories filled
 * (and checked) through the Deque and Index API, and against a Deque and an Index written by
 * python-diskcache. Independent runs go in parallel: every spawn costs a Node start.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { Deque } from '../../src/collections/deque.js';
import { Index } from '../../src/collections/index.js';
import { Cache } from '../../src/index.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli, runJson } from './run-cli.js';

function deque(values: unknown[] = [], front: unknown[] = []): string {
  const dir = tempDir('cli-deque');
  const d = new Deque(dir);
  d.extend(values);
  for (const value of front) d.appendLeft(value);
  d.close();
  return dir;
}

/** Runs `body` on a collection just opened and closes it, whatever happens. */
function using<C extends { close(): void }, T>(collection: C, body: (collection: C) => T): T {
  try {
    return body(collection);
  } finally {
    collection.close();
  }
}

function withDeque<T>(dir: string, body: (d: Deque) => T): T {
  return using(new Deque(dir), body);
}

function withIndex<T>(dir: string, body: (index: Index) => T): T {
  return using(new Index(dir), body);
}

function jsonError(stderr: string): Record<string, unknown> {
  return JSON.parse(stderr).error;
}

/** Holds the write lock of `dir` on a second connection until the returned function is called. */
function holdWriteLock(dir: string): () => void {
  const db = new Database(path.join(dir, 'cache.db'));
  db.prepare('BEGIN IMMEDIATE').run();
  return () => {
    db.prepare('ROLLBACK').run();
    db.close();
  };
}

describe('diskcache deque', () => {
  it('reads a deque in deque order: length, list (--reverse, --limit), peek and peek --left', async () => {
    // appendLeft puts 'first' before the extended items although its row is newer.
    const dir = deque(['a', 2, { n: [1] }, Buffer.from([1, 2])], ['first']);
    const [length, list, cut, back, front] = await Promise.all([
      runCli(['-d', dir, 'deque', 'length']),
      runCli(['-d', dir, 'deque', 'list']),
      runCli(['-d', dir, '--json', 'deque', 'list', '--reverse', '--limit', '2']),
      runCli(['-d', dir, 'deque', 'peek']),
      runJson(['-d', dir, 'deque', 'peek', '--left']),
    ]);
    expect(length).toMatchObject({ code: 0, stdout: '5\n' });
    expect(list).toMatchObject({ code: 0, stdout: 'first\na\n2\n{ n: [ 1 ] }\n<2 bytes> 0102\n' });
    expect(cut.code).toBe(0);
    expect(JSON.parse(cut.stdout)).toEqual({
      count: 2,
      truncated: true,
      items: [{ type: 'Buffer', base64: 'AQI=' }, { n: [1] }],
    });
    expect(cut.stderr).toBe(''); // --json: no note on stderr
    expect(back).toMatchObject({ code: 0, stdout: '<2 bytes> 0102\n' });
    expect(front).toEqual({ side: 'front', value: 'first' });
    // Reading took nothing away.
    expect(withDeque(dir, (d) => d.length)).toBe(5);
  });

  it('pop takes from the back, pop --left from the front; the Node API sees what is left', async () => {
    const dir = deque(['a', 'b', 'c', 'd']);
    expect(await runJson(['-d', dir, 'deque', 'pop', '--left'])).toEqual({
      side: 'front',
      value: 'a',
    });
    expect(await runCli(['-d', dir, 'deque', 'pop'])).toMatchObject({ code: 0, stdout: 'd\n' });
    expect(withDeque(dir, (d) => [...d])).toEqual(['b', 'c']);
  });

  it('append creates the deque (eviction policy none); the Node API pops the items in order', async () => {
    const dir = path.join(tempDir('cli-deque'), 'new', 'queue');
    const first = await runJson(['-d', dir, 'deque', 'append', 'one', 'two', 'three']);
    expect(first).toEqual({ side: 'back', appended: 3, length: 3 });
    const left = await runCli(['-d', dir, 'deque', 'append', '--left', '--json-value', '0', '[1]']);
    expect(left).toMatchObject({ code: 0, stdout: 'appended 2 items at the front (length 5)\n' });
    const cache = new Cache(dir);
    expect(cache.settings.eviction_policy).toBe('none');
    cache.close();
    // appendLeft of 0 then [1]: [1] ends up first, as Deque.extendLeft would put it.
    expect(
      withDeque(dir, (d) => [d.popLeft(), d.popLeft(), d.popLeft(), d.pop(), d.popLeft(), d.pop()]),
    ).toEqual([[1], 0, 'one', 'three', 'two', undefined]);
  });

  it('an empty deque: pop and peek exit 1, list prints nothing; clear needs --yes', async () => {
    const empty = deque();
    const full = deque(['x', 'y', 'z']);
    const [pop, peek, list, refused] = await Promise.all([
      runCli(['-d', empty, 'deque', 'pop']),
      runCli(['-d', empty, '--json', 'deque', 'peek', '--left']),
      runCli(['-d', empty, 'deque', 'list']),
      runCli(['-d', full, 'deque', 'clear']),
    ]);
    expect(pop).toMatchObject({ code: 1, stdout: '', stderr: 'diskcache: the deque is empty\n' });
    expect(peek).toMatchObject({ code: 1, stdout: '' });
    expect(jsonError(peek.stderr)).toMatchObject({ exitCode: 1, kind: 'not-found' });
    expect(list).toMatchObject({ code: 0, stdout: '', stderr: '(the deque is empty)\n' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(withDeque(full, (d) => d.length)).toBe(3);
    expect(await runJson(['-d', full, 'deque', 'clear', '--yes'])).toEqual({ removed: 3 });
    expect(withDeque(full, (d) => d.length)).toBe(0);
  });

  it('a missing directory exits 5 and a bad value exits 2, creating nothing; usage errors exit 2', async () => {
    const parent = tempDir('cli-deque');
    const missing = path.join(parent, 'missing');
    const results = await Promise.all([
      runCli(['-d', missing, 'deque', 'length']),
      runCli(['-d', missing, 'deque', 'append', '--json-value', '{oops']),
      runCli(['-d', missing, 'deque', 'pop', '--right']),
    ]);
    expect(results.map((result) => result.code)).toEqual([5, 2, 2]);
    expect(results[1]!.stderr).toContain('VALUE "{oops" (--json-value) is not valid JSON');
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('exits 4 and changes nothing while another process holds the write lock past --timeout', async () => {
    const dir = deque(['kept']);
    const release = holdWriteLock(dir);
    let results: Awaited<ReturnType<typeof runCli>>[];
    try {
      results = await Promise.all([
        runCli(['-d', dir, '--timeout', '0.2', 'deque', 'pop']),
        runCli(['-d', dir, '--timeout', '0.2', '--json', 'deque', 'append', 'lost']),
      ]);
    } finally {
      release();
    }
    expect(results.map((result) => result.code)).toEqual([4, 4]);
    expect(jsonError(results[1]!.stderr)).toMatchObject({ exitCode: 4, kind: 'timeout' });
    expect(withDeque(dir, (d) => [...d])).toEqual(['kept']);
  });
});

describe('diskcache index', () => {
  function filled(): string {
    const dir = tempDir('cli-index');
    withIndex(dir, (index) => {
      index.set('a', 1);
      index.set(5, { five: true });
      index.set(['u', 7], 'multi\nline');
      index.set(Buffer.from('k'), 2.5);
    });
    return dir;
  }

  it('size, keys (--reverse, --limit), items and get with each key type', async () => {
    const dir = filled();
    const [size, keys, cut, items, itemsJson, getInt, getJson] = await Promise.all([
      runCli(['-d', dir, 'index', 'size']),
      runCli(['-d', dir, 'index', 'keys']),
      runCli(['-d', dir, '--json', 'index', 'keys', '--reverse', '--limit', '2']),
      runCli(['-d', dir, 'index', 'items']),
      runJson(['-d', dir, 'index', 'items', '--limit', '2']),
      runJson(['-d', dir, 'index', 'get', '--int-key', '5']),
      runCli(['-d', dir, 'index', 'get', '--key-type', 'json', '["u", 7]']),
    ]);
    expect(size).toMatchObject({ code: 0, stdout: '4\n' });
    expect(keys).toMatchObject({ code: 0, stdout: "a\n5\n[ 'u', 7 ]\n<1 byte> 6b\n" });
    expect(JSON.parse(cut.stdout)).toEqual({
      count: 2,
      truncated: true,
      keys: [{ type: 'Buffer', base64: 'aw==' }, ['u', 7]],
    });
    expect(items.stdout.split('\n')).toEqual([
      'key          value',
      'a            1',
      '5            { five: true }',
      "[ 'u', 7 ]   multi\\nline",
      '<1 byte> 6b  2.5',
      '',
    ]);
    expect(itemsJson).toEqual({
      count: 2,
      truncated: true,
      items: [
        { key: 'a', value: 1 },
        { key: 5, value: { five: true } },
      ],
    });
    expect(getInt).toEqual({ key: 5, value: { five: true } });
    expect(getJson).toMatchObject({ code: 0, stdout: 'multi\nline\n' });
  });

  it('set, delete, pop and clear change the index as the Index API sees it', async () => {
    const dir = filled();
    // One at a time: the order of the writes is the insertion order checked below.
    expect(await runJson(['-d', dir, 'index', 'set', 'a', 'replaced'])).toEqual({
      key: 'a',
      stored: true,
    });
    expect(await runCli(['-d', dir, 'index', 'delete', '--int-key', '5'])).toMatchObject({
      code: 0,
      stdout: 'deleted 5\n',
    });
    expect(await runJson(['-d', dir, 'index', 'pop', '--key-type', 'json', '["u",7]'])).toEqual({
      key: ['u', 7],
      value: 'multi\nline',
    });
    const [deleteMissing, popMissing, setJson] = await Promise.all([
      runCli(['-d', dir, 'index', 'delete', '--int-key', '5']),
      runCli(['-d', dir, '--json', 'index', 'pop', 'nope']),
      runCli(['-d', dir, 'index', 'set', '--int-key', '9', '[9]', '--json-value']),
    ]);
    expect(deleteMissing.code).toBe(1);
    expect(popMissing.code).toBe(1);
    expect(jsonError(popMissing.stderr)).toMatchObject({ kind: 'not-found', key: 'nope' });
    expect(setJson.stdout).toBe('stored 9\n');
    // An overwritten key keeps its place; a new one goes to the end.
    expect(withIndex(dir, (index) => [...index])).toEqual([
      ['a', 'replaced'],
      [Buffer.from('k'), 2.5],
      [9, [9]],
    ]);
    expect(await runCli(['-d', dir, 'index', 'clear', '-y'])).toMatchObject({
      code: 0,
      stdout: 'removed 3 entries\n',
    });
    expect(withIndex(dir, (index) => index.size)).toBe(0);
  });

  it('set creates an index with eviction policy none, leaves an existing cache’s policy alone; reads on a missing directory create nothing', async () => {
    const parent = tempDir('cli-index');
    const missing = path.join(parent, 'missing');
    const created = path.join(parent, 'created');
    const plain = path.join(parent, 'plain');
    using(new Cache(plain, { evictionPolicy: 'least-recently-used' }), () => undefined);
    const results = await Promise.all([
      runCli(['-d', missing, 'index', 'size']),
      runCli(['-d', missing, 'index', 'set', '--int-key', 'x', 'v']),
      runCli(['-d', created, 'index', 'set', 'k', 'v']),
      runCli(['-d', plain, 'index', 'set', 'k', 'v']),
    ]);
    expect(results.map((result) => result.code)).toEqual([5, 2, 0, 0]);
    expect(fs.existsSync(missing)).toBe(false);
    const policy = (dir: string) =>
      using(new Cache(dir), (cache) => cache.settings.eviction_policy);
    expect([policy(created), policy(plain)]).toEqual(['none', 'least-recently-used']);
    expect(withIndex(created, (index) => index.get('k'))).toBe('v');
  });
});

describe.skipIf(!findPython())(
  pythonTitle(`deque and index on python-diskcache directories`),
  () => {
    it('reads a Deque Python built; Python pops what the CLI appended', async () => {
      const dir = tempDir('cli-python-deque');
      runPython(
        `import sys, diskcache
d = diskcache.Deque(directory=sys.argv[1])
d.extend(['b', 42, 2.5])
d.appendleft(b'\\x00\\x01')
d.append('tail')`,
        [dir],
      );
      expect(await runJson(['-d', dir, 'deque', 'list'])).toEqual({
        count: 5,
        truncated: false,
        items: [{ type: 'Buffer', base64: 'AAE=' }, 'b', 42, 2.5, 'tail'],
      });
      expect(await runCli(['-d', dir, 'deque', 'pop', '--left'])).toMatchObject({
        code: 0,
        stdout: '<2 bytes> 0001\n',
      });
      const appended = await runCli([
        '-d',
        dir,
        'deque',
        'append',
        '"from-cli"',
        '7',
        '--json-value',
      ]);
      expect(appended.code).toBe(0);
      const seen = runPython(
        `import sys, diskcache
d = diskcache.Deque(directory=sys.argv[1])
print(repr([d.popleft() for _ in range(len(d))]))`,
        [dir],
      );
      expect(seen.trim()).toBe("['b', 42, 2.5, 'tail', 'from-cli', 7]");
    });

    it('lists an Index Python built; Python reads what the CLI set, in order', async () => {
      const dir = tempDir('cli-python-index');
      runPython(
        `import sys, diskcache
diskcache.Index(sys.argv[1], [('a', 1), (2, 'two'), ('c', b'\\xff')])`,
        [dir],
      );
      expect(await runJson(['-d', dir, 'index', 'items'])).toEqual({
        count: 3,
        truncated: false,
        items: [
          { key: 'a', value: 1 },
          { key: 2, value: 'two' },
          { key: 'c', value: { type: 'Buffer', base64: '/w==' } },
        ],
      });
      expect((await runCli(['-d', dir, 'index', 'set', '--int-key', '2', 'TWO'])).code).toBe(0);
      expect((await runCli(['-d', dir, 'index', 'set', 'd', '4.5', '--json-value'])).code).toBe(0);
      const seen = runPython(
        `import sys, diskcache
print(repr(list(diskcache.Index(sys.argv[1]).items())))`,
        [dir],
      );
      expect(seen.trim()).toBe("[('a', 1), (2, 'TWO'), ('c', b'\\xff'), ('d', 4.5)]");
    });
  },
);

describe('docs/cli.md', () => {
  it('documents every deque and index subcommand the program has', () => {
    const docs = fs.readFileSync(
      path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/cli.md'),
      'utf8',
    );
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
    const program = buildProgram(io);
    for (const group of ['deque', 'index']) {
      const parent = program.commands.find((command) => command.name() === group);
      const names = parent?.commands.map((command) => command.name()) ?? [];
      expect(names.length).toBeGreaterThan(5);
      for (const name of names) expect(docs).toMatch(new RegExp(`^\\| \`${group} ${name}\\b`, 'm'));
    }
  });
});
