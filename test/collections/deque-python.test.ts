// Deque against the reference: Python's diskcache.Deque and Node's Deque on one directory at the
// same time - Python appends while Node pops, and Node appends while Python pops, in rounds that
// force the two processes to interleave - plus positional operations seen from the other side.
import { describe, expect, it } from 'vitest';
import { Deque } from '../../src/index.js';
import { decode, type Encoded, PYTHON_CODEC, startPython } from '../fixtures/collections-python.js';
import { pause } from '../fixtures/recipes-start.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

const ROUNDS = 20;
const PER_ROUND = 100;
const TOTAL = ROUNDS * PER_ROUND;

/** Item `n` of a run: the four value types both sides store natively (str, int, float, bytes). */
function item(prefix: string, n: number): string | number | Buffer {
  switch (n % 4) {
    case 0:
      return `${prefix}-${n}`;
    case 1:
      return n;
    case 2:
      return n + 0.5;
    default:
      return Buffer.from(`${prefix}-${n}`);
  }
}

const PRELUDE = `${PYTHON_CODEC}
def item(prefix, n):
    return [f'{prefix}-{n}', n, n + 0.5, f'{prefix}-{n}'.encode()][n % 4]
def wait_empty(d):
    deadline = time.time() + 60
    while len(d) > 0 and time.time() < deadline: time.sleep(0.001)
`;

/** Polls `pop` until `count` items came or `gone()` says the other side stopped and nothing is left. */
async function collect(pop: () => unknown, count: number, gone: () => boolean): Promise<unknown[]> {
  const got: unknown[] = [];
  while (got.length < count) {
    const value = pop();
    if (value !== undefined) got.push(value);
    else if (gone() && pop() === undefined) break;
    else await pause(1);
  }
  return got;
}

describe.skipIf(!findPython())(pythonTitle(`Deque and Python's diskcache.Deque`), () => {
  it('Python appends (append and extend) while Node pops from the front: every item once, in order', async () => {
    const directory = tempDir('deque-python');
    const deque = new Deque(directory);
    const python = startPython(
      `${PRELUDE}
d = diskcache.Deque(directory=sys.argv[1])
for r in range(${ROUNDS}):
    items = [item('py', r * ${PER_ROUND} + k) for k in range(${PER_ROUND})]
    d.extend(items[:50])
    for value in items[50:]: d.append(value)
    wait_empty(d)  # Node must pop this round before the next one comes
`,
      [directory],
    );
    const got = await collect(
      () => deque.popLeft(),
      TOTAL,
      () => python.child.exitCode !== null,
    );
    await python.output;
    expect(got).toEqual(Array.from({ length: TOTAL }, (_, n) => item('py', n)));
    deque.close();
  });

  it('Node appends (append and extend) while Python pops from the front: every item once, in order', async () => {
    const directory = tempDir('deque-python');
    const python = startPython(
      `${PRELUDE}
d = diskcache.Deque(directory=sys.argv[1])  # Python creates the directory
print('ready')
got = []
deadline = time.time() + 60
while len(got) < ${TOTAL} and time.time() < deadline:
    try:
        got.append(d.popleft())
    except IndexError:
        time.sleep(0.001)
print(json.dumps([enc(v) for v in got]))
`,
      [directory],
    );
    await python.line('ready');
    const deque = new Deque(directory);
    for (let round = 0; round < ROUNDS; round++) {
      const items = Array.from({ length: PER_ROUND }, (_, k) =>
        item('node', round * PER_ROUND + k),
      );
      deque.extend(items.slice(0, 50));
      for (const value of items.slice(50)) deque.append(value);
      while (deque.length > 0 && python.child.exitCode === null) await pause(1); // Python pops this round first
    }
    const lines = (await python.output).trim().split('\n');
    const got = (JSON.parse(lines.at(-1)!) as Encoded[]).map(decode);
    expect(got).toEqual(Array.from({ length: TOTAL }, (_, n) => item('node', n)));
    expect(deque.length).toBe(0);
    deque.close();
  });

  it('positional changes made by Node are what Python sees, and the other way round', () => {
    const directory = tempDir('deque-python');
    runPython(`${PRELUDE}\ndiskcache.Deque(range(10), directory=sys.argv[1])`, [directory]);
    const deque = new Deque<number | string>(directory);
    expect([deque.at(0), deque.at(-1), deque.length]).toEqual([0, 9, 10]);
    deque.rotate(3); // 7 8 9 0 1 2 3 4 5 6
    deque.reverse(); // 6 5 4 3 2 1 0 9 8 7
    deque.deleteAt(-1); // 6 5 4 3 2 1 0 9 8
    deque.setAt(1, 'five');
    deque.appendLeft('first');
    deque.remove(3);
    const expected = ['first', 6, 'five', 4, 2, 1, 0, 9, 8];
    expect([...deque]).toEqual(expected);
    const seen = runPython(
      `${PRELUDE}\nprint(json.dumps(list(diskcache.Deque(directory=sys.argv[1]))))`,
      [directory],
    );
    expect(JSON.parse(seen)).toEqual(expected);
    runPython(
      `${PRELUDE}\nd = diskcache.Deque(directory=sys.argv[1])\nd.rotate(-2)\nd[-1] = 'last'\ndel d[0]\nd.appendleft('py')`,
      [directory],
    );
    expect([...deque]).toEqual(['py', 4, 2, 1, 0, 9, 8, 'first', 'last']);
    deque.close();
  });
});
