// Index against the reference: Python's diskcache.Index and Node's Index on one directory - the
// same entries in the same insertion order either way, popitem/queue interplay, and a counter
// incremented inside transactions by a Python process and Node at the same time.
import { describe, expect, it } from 'vitest';
import { Index, type Key } from '../../src/index.js';
import { decode, type Encoded, PYTHON_CODEC, startPython } from '../fixtures/collections-python.js';
import { pause } from '../fixtures/recipes-start.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

/** Python's view of the index in `directory`: its items in order. */
function pythonItems(directory: string): [unknown, unknown][] {
  const out = runPython(
    `${PYTHON_CODEC}\nprint(json.dumps([[enc(k), enc(v)] for k, v in diskcache.Index(sys.argv[1]).items()]))`,
    [directory],
  );
  return (JSON.parse(out) as [Encoded, Encoded][]).map(([key, value]) => [
    decode(key),
    decode(value),
  ]);
}

describe.skipIf(!findPython())(pythonTitle(`Index and Python's diskcache.Index`), () => {
  it('Python sees the entries Node wrote, in insertion order', () => {
    const directory = tempDir('index-python');
    const index = new Index<Key, unknown>(directory, [
      ['text', 'value'],
      [7, 70],
      [2.5, 0.25],
      [Buffer.from('raw'), Buffer.from([0, 255])],
      ['moved', 1],
    ]);
    index.set(7, 77); // keeps its position
    index.delete('text');
    index.set('text', 'again'); // moves to the end
    const expected = [...index];
    expect(expected).toEqual([
      [7, 77],
      [2.5, 0.25],
      [Buffer.from('raw'), Buffer.from([0, 255])],
      ['moved', 1],
      ['text', 'again'],
    ]);
    expect(pythonItems(directory)).toEqual(expected);
    index.close();
  });

  it('Node sees the entries Python wrote, in order, and the two agree after popItem and a queue', () => {
    const directory = tempDir('index-python');
    runPython(
      `${PYTHON_CODEC}
index = diskcache.Index(sys.argv[1], [('b', 1), ('a', 2)])
index['c'] = 3
index['b'] = 10
del index['a']
index['a'] = 4
index.push('queued')
`,
      [directory],
    );
    const index = new Index<Key, unknown>(directory);
    expect([...index]).toEqual([
      ['b', 10],
      ['c', 3],
      ['a', 4],
      [500000000000000, 'queued'],
    ]);
    expect(index.popItem({ last: false })).toEqual(['b', 10]);
    expect(index.pull()).toEqual([500000000000000, 'queued']);
    index.push('from node', { side: 'front' });
    expect(index.setDefault('c', 0)).toBe(3);
    const out = runPython(
      `${PYTHON_CODEC}
index = diskcache.Index(sys.argv[1])
key, value = index.pull()
print(json.dumps([enc(key), enc(value), enc(index.popitem()[0]), len(index)]))
`,
      [directory],
    );
    const [key, value, popped, size] = JSON.parse(out) as [Encoded, Encoded, Encoded, number];
    expect([decode(key), decode(value), decode(popped), size]).toEqual([
      500000000000000,
      'from node',
      'a',
      1,
    ]); // an empty queue restarts at 5e14
    expect([...index]).toEqual([['c', 3]]);
    index.close();
  });

  it('a counter incremented in transactions by Python and Node at the same time loses nothing', async () => {
    const directory = tempDir('index-python');
    const index = new Index<string, number>(directory);
    const python = startPython(
      `${PYTHON_CODEC}
index = diskcache.Index(sys.argv[1])
print('ready')
while 'go' not in index: time.sleep(0.001)
for _ in range(300):
    with index.transact():
        index['n'] = index.get('n', 0) + 1
`,
      [directory],
    );
    await python.line('ready');
    index.set('go', 1);
    for (let n = 0; n < 300; n++) {
      index.transact(() => index.set('n', (index.get('n') ?? 0) + 1));
      if (n % 10 === 0) await pause(1); // let the Python process in between
    }
    await python.output;
    expect(index.get('n')).toBe(600);
    index.close();
  });
});
