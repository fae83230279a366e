/**
 * Exit codes of the `diskcache` CLI, run as real processes: 1 not found, 2 usage, 3 check
 * problems, 4 lock timeout (a second connection holds BEGIN IMMEDIATE), 5 bad directory,
 * 6 other failures; and that --help and docs/cli.md document them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/cache.js';
import { EXIT_CODES_HELP } from '../../src/cli/exit-codes.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from './run-cli.js';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/cli.md');

function cacheWith(entries: [unknown, unknown][] = []): string {
  const dir = tempDir('cli-exit');
  const cache = new Cache(dir, { cullLimit: 0 });
  for (const [key, value] of entries) cache.set(key, value);
  cache.close();
  return dir;
}

function jsonError(
  stderr: string,
): { exitCode: number; kind: string; message: string } & Record<string, unknown> {
  return JSON.parse(stderr).error;
}

describe('1: not found', () => {
  it('get and delete of a missing key exit 1 and say so on stderr', async () => {
    const dir = cacheWith([['here', 1]]);
    const get = await runCli(['-d', dir, 'get', 'nope']);
    expect(get).toMatchObject({ code: 1, stdout: '' });
    expect(get.stderr).toBe('diskcache: key not found: nope\n');
    expect((await runCli(['-d', dir, 'delete', 'nope'])).code).toBe(1);
    // The string "1" is not the integer 1.
    expect((await runCli(['-d', dir, 'get', 'here', '--int-key'])).code).toBe(2);
    const cache = new Cache(dir);
    cache.set(1, 'one');
    cache.close();
    expect((await runCli(['-d', dir, 'get', '1'])).code).toBe(1);
    expect((await runCli(['-d', dir, 'get', '1', '--int-key'])).code).toBe(0);
  });

  it('an expired entry is missing', async () => {
    const dir = tempDir('cli-exit');
    const cache = new Cache(dir, { cullLimit: 0 });
    cache.set('old', 'value', { expire: -1 });
    cache.close();
    expect((await runCli(['-d', dir, 'get', 'old'])).code).toBe(1);
    expect((await runCli(['-d', dir, 'delete', 'old'])).code).toBe(1);
  });

  it('with --json the error is a JSON document on stderr and stdout stays empty', async () => {
    const dir = cacheWith();
    const result = await runCli(['-d', dir, '--json', 'get', '--int-key', '77']);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(jsonError(result.stderr)).toEqual({
      exitCode: 1,
      kind: 'not-found',
      message: 'key not found: 77',
      key: 77,
    });
  });
});

describe('2: usage', () => {
  it.each([
    ['an unknown command', ['frobnicate']],
    ['an unknown option', ['keys', '--colour']],
    ['a missing argument', ['get']],
    ['a bad --limit', ['keys', '--limit', 'ten']],
    ['a negative --expire', ['set', 'k', 'v', '--expire', '-5']],
    ['a bad --timeout', ['--timeout', 'soon', 'stats']],
    ['an unknown --key-type', ['get', 'k', '--key-type', 'date']],
  ])('%s exits 2 with commander’s message', async (_what, args) => {
    const dir = cacheWith();
    const result = await runCli(['-d', dir, ...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: /);
  });

  it.each([
    [
      'a key that is not an integer with --int-key',
      ['get', 'abc', '--int-key'],
      /key must be an integer/,
    ],
    [
      'a key that is not a number with --key-type float',
      ['get', 'NaN', '--key-type', 'float'],
      /key must be a finite number/,
    ],
    [
      'a key that is not JSON with --key-type json',
      ['get', '{oops', '--key-type', 'json'],
      /key .* is not valid JSON/,
    ],
    [
      'a value that is not JSON with --json-value',
      ['set', 'k', '{oops', '--json-value'],
      /VALUE .* is not valid JSON/,
    ],
    [
      'an object as a tag',
      ['set', 'k', 'v', '--tag', '{}', '--tag-type', 'json'],
      /a tag must be a string or a number/,
    ],
  ])('%s exits 2 and changes nothing', async (_what, args, message) => {
    const dir = cacheWith();
    const result = await runCli(['-d', dir, ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    const cache = new Cache(dir);
    expect(cache.size).toBe(0);
    cache.close();
  });

  it('with --json the parser’s usage errors are JSON documents too', async () => {
    const result = await runCli(['--json', 'frobnicate']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(jsonError(result.stderr)).toEqual({
      exitCode: 2,
      kind: 'usage',
      message: "unknown command 'frobnicate'",
    });
  });

  it('set with a bad argument creates no directory', async () => {
    const dir = path.join(tempDir('cli-exit'), 'not-yet');
    const badTag = await runCli(['-d', dir, 'set', 'k', 'v', '--tag', '[1]', '--tag-type', 'json']);
    expect(badTag.code).toBe(2);
    const badKey = await runCli(['-d', dir, 'set', 'k', 'v', '--int-key']);
    expect(badKey.code).toBe(2);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('no --dir and no DISKCACHE_DIR exits 2 and says how to give one', async () => {
    const result = await runCli(['stats']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--dir');
    expect(result.stderr).toContain('DISKCACHE_DIR');
  });

  it('no command prints the help on stderr and exits 2; --help exits 0', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: diskcache');
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: diskcache');
  });
});

describe('3: check found problems', () => {
  it('exits 3 when a value file is missing, 0 after --fix', async () => {
    const dir = cacheWith([['big', Buffer.alloc(50_000, 1)]]);
    const valueFiles = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((name) =>
      name.endsWith('.val'),
    );
    expect(valueFiles).toHaveLength(1);
    fs.rmSync(path.join(dir, valueFiles[0]!));
    expect((await runCli(['-d', dir, 'check'])).code).toBe(3);
    expect((await runCli(['-d', dir, 'check', '--fix'])).code).toBe(0);
    expect((await runCli(['-d', dir, 'check'])).code).toBe(0);
  });
});

describe('4: the write lock stays busy longer than --timeout', () => {
  /** Holds the write lock of `dir` on a second connection until the returned function is called. */
  function holdWriteLock(dir: string): () => void {
    const db = new Database(path.join(dir, 'cache.db'));
    db.prepare('BEGIN IMMEDIATE').run();
    return () => {
      db.prepare('ROLLBACK').run();
      db.close();
    };
  }

  it('set and clear exit 4 and change nothing; get still reads (readers never wait)', async () => {
    const dir = cacheWith([['k', 'old']]);
    const release = holdWriteLock(dir);
    try {
      const set = await runCli(['-d', dir, '--timeout', '0.3', 'set', 'k', 'new']);
      expect(set.code).toBe(4);
      expect(set.stderr).toMatch(/write lock .* within 0\.3 s/);
      const get = await runCli(['-d', dir, '--timeout', '0.3', 'get', 'k']);
      expect(get.code, get.stderr).toBe(0);
      expect(get.stdout.trim()).toBe('old');
      const clear = await runCli(['-d', dir, '--timeout', '0.2', '--json', 'clear', '--yes']);
      expect(clear.code).toBe(4);
      expect(jsonError(clear.stderr)).toMatchObject({ exitCode: 4, kind: 'timeout' });
    } finally {
      release();
    }
    const cache = new Cache(dir);
    expect(cache.get('k')).toBe('old');
    cache.close();
  });

  it('waits for a lock released within --timeout and then succeeds', async () => {
    const dir = cacheWith();
    const release = holdWriteLock(dir);
    const running = runCli(['-d', dir, '--timeout', '30', 'set', 'k', 'after-the-lock']);
    // Released while the child is waiting (or before it starts: either way it must succeed).
    setTimeout(release, 500);
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    const cache = new Cache(dir);
    expect(cache.get('k')).toBe('after-the-lock');
    cache.close();
  });
});

describe('5: bad cache directory', () => {
  it.each([
    ['stats'],
    ['keys'],
    ['get', 'k'],
    ['check'],
    ['delete', 'k'],
    ['expire'],
    ['evict', 't'],
    ['cull'],
    ['clear', '--yes'],
  ])('%s on a missing directory exits 5 and creates nothing', async (...args) => {
    const dir = path.join(tempDir('cli-exit'), 'missing');
    const result = await runCli(['-d', dir, ...args]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`cache directory ${dir} does not exist`);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('an existing directory without cache.db is not a cache: exit 5, no cache.db made', async () => {
    const dir = tempDir('cli-exit');
    const result = await runCli(['-d', dir, 'get', 'k']);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('not a cache directory');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a file given as the directory exits 5, even for set', async () => {
    const file = path.join(tempDir('cli-exit'), 'plain-file');
    fs.writeFileSync(file, 'text');
    expect((await runCli(['-d', file, 'stats'])).code).toBe(5);
    expect((await runCli(['-d', file, 'set', 'k', 'v'])).code).toBe(5);
  });

  it('a cache.db that is not a database exits 5 (DatabaseError)', async () => {
    const dir = tempDir('cli-exit');
    fs.writeFileSync(path.join(dir, 'cache.db'), Buffer.alloc(8192, 'garbage'));
    for (const args of [['stats'], ['set', 'k', 'v']]) {
      const result = await runCli(['-d', dir, '--json', ...args]);
      expect(result.code).toBe(5);
      expect(jsonError(result.stderr)).toMatchObject({ exitCode: 5, kind: 'bad-directory' });
    }
  });
});

describe('a value that cannot be decoded', () => {
  it('a Python pickle that would call code is shown as a placeholder with the reason, exit 0', async () => {
    const dir = cacheWith();
    const db = new Database(path.join(dir, 'cache.db'));
    // A row as Python's diskcache writes a pickled value (mode 4), naming os.system: refused.
    db.prepare(
      "INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value) VALUES ('py', 1, 0, NULL, 0, 0, NULL, 0, 4, NULL, x'80048c026f738c0673797374656d932e')",
    ).run();
    db.close();
    const result = await runCli(['-d', dir, 'get', 'py']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^<undecodable value: mode 4, 16 bytes: .*opcode STACK_GLOBAL .* can name or call code.*>\n$/,
    );
    const json = await runCli(['-d', dir, '--json', 'get', 'py']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).value).toMatchObject({ type: 'Undecodable', mode: 4, size: 16 });
    // --raw cannot write it: a usage error naming the placeholder.
    const raw = await runCli(['-d', dir, 'get', 'py', '--raw']);
    expect(raw.code).toBe(2);
    expect(raw.stderr).toMatch(/--raw needs a string or bytes value; this one is <undecodable/);
    // The key is still listed.
    expect((await runCli(['-d', dir, 'keys'])).stdout).toBe('py\n');
  });
});

describe('documentation', () => {
  it('--help lists every exit code', async () => {
    const help = await runCli(['--help']);
    expect(help.stdout).toContain(EXIT_CODES_HELP);
    for (const code of [0, 1, 2, 3, 4, 5, 6])
      expect(help.stdout).toMatch(new RegExp(`^ {2}${code} {2}\\S`, 'm'));
  });

  it('docs/cli.md documents every command, every exit code and the global options', () => {
    const docs = fs.readFileSync(DOCS, 'utf8');
    for (const command of [
      'stats',
      'keys',
      'get',
      'set',
      'delete',
      'expire',
      'evict',
      'cull',
      'clear',
      'check',
    ]) {
      expect(docs).toMatch(new RegExp(`^### \`diskcache ${command}\\b`, 'm'));
    }
    for (const line of EXIT_CODES_HELP.split('\n').slice(1)) {
      const [code, ...meaning] = line.trim().split(/\s+/);
      expect(docs).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
      expect(meaning.length).toBeGreaterThan(0);
    }
    for (const option of [
      '--dir',
      '--json',
      '--timeout',
      '--disk',
      'DISKCACHE_DIR',
      '--key-type',
      '--int-key',
      '--json-value',
    ]) {
      expect(docs).toContain(option);
    }
  });
});
