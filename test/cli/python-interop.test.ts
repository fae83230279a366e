/**
 * The CLI on a directory written by Python's diskcache, and Python reading what the CLI wrote:
 * `diskcache` works on python-diskcache directories, as its help says.
 */
import { describe, expect, it } from 'vitest';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli, runJson } from './run-cli.js';

describe.skipIf(!findPython())(pythonTitle(`CLI and python-diskcache`), () => {
  it('lists, reads and checks a cache Python wrote; Python reads what the CLI set', async () => {
    const dir = tempDir('cli-python');
    runPython(
      `import sys, diskcache
c = diskcache.Cache(sys.argv[1])
c.set('text', 'from python')
c.set(7, 2**40)
c.set('bytes', b'\\x00\\x01', tag='py')
c.set('pickled', {'a': 1})
c.close()`,
      [dir],
    );
    expect((await runJson<{ keys: unknown[] }>(['-d', dir, 'keys'])).keys).toEqual([
      'text',
      7,
      'bytes',
      'pickled',
    ]);
    expect((await runCli(['-d', dir, 'get', 'text'])).stdout).toBe('from python\n');
    expect((await runJson<{ value: unknown }>(['-d', dir, 'get', '7', '--int-key'])).value).toBe(
      2 ** 40,
    );
    expect(await runJson(['-d', dir, 'get', 'bytes'])).toMatchObject({
      value: { type: 'Buffer', base64: 'AAE=' },
      tag: 'py',
    });
    // Python's pickled plain data is read by the safe pickle reader (no code runs).
    expect(await runJson(['-d', dir, 'get', 'pickled'])).toMatchObject({ value: { a: 1 } });
    expect(await runJson(['-d', dir, 'stats'])).toMatchObject({ entries: 4 });
    expect((await runCli(['-d', dir, 'check'])).code).toBe(0);

    expect(
      (
        await runCli([
          '-d',
          dir,
          'set',
          'from-node',
          '{"n": [1, 2]}',
          '--json-value',
          '--expire',
          '600',
        ])
      ).code,
    ).toBe(0);
    expect((await runCli(['-d', dir, 'set', '--int-key', '8', 'eight'])).code).toBe(0);
    expect((await runCli(['-d', dir, 'evict', 'py'])).code).toBe(0);
    const seen = runPython(
      `import sys, diskcache
c = diskcache.Cache(sys.argv[1])
print(repr(c.get(8)), repr(c.get('bytes')), 'from-node' in c, len(c))`,
      [dir],
    );
    // Python sees the string value and the key; the JSON object is a V8-serialized value it cannot unpickle.
    expect(seen.trim()).toBe("'eight' None True 5");
  });
});
