/**
 * The multi-process drain of the collections benchmark: N processes pop from the left of ONE
 * deque until it is empty, for this library (forked Node children, collections-drain-child.ts)
 * and for Python's diskcache (N python_collections.py processes). The children stay up across
 * rounds; each round refills the deque (not timed), says 'go' to all and measures the wall time
 * until every child has answered with what it got. It verifies (duplicates, lost) and reports;
 * it never asserts a time.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { Deque } from '../src/index.js';
import { itemValue } from './collections-workload.js';
import { BENCH_DIR, freshDirectory } from './lib.js';
import { PythonWorker } from './python-system.js';

/** What one drain round did. */
export interface DrainRound {
  readonly wallNs: number;
  /** Items each process got. */
  readonly perProcess: readonly number[];
  /** Items received more than once (counted beyond the first). */
  readonly duplicates: number;
  /** Items never received. */
  readonly lost: number;
}

export interface DrainSystem {
  readonly id: string;
  readonly label: string;
  readonly note: string;
  round(): Promise<DrainRound>;
  close(): Promise<void>;
}

/** Counts what the processes got against items 0..count-1. */
export function verify(
  count: number,
  got: readonly (readonly number[])[],
): Omit<DrainRound, 'wallNs'> {
  const seen = new Uint8Array(count);
  let duplicates = 0;
  for (const items of got) {
    for (const item of items) {
      if (!Number.isInteger(item) || item < 0 || item >= count)
        throw new Error(`a drain process got item ${item}, which was never pushed`);
      if (seen[item]) duplicates++;
      else seen[item] = 1;
    }
  }
  const received = seen.reduce((total, bit) => total + bit, 0);
  return { perProcess: got.map((items) => items.length), duplicates, lost: count - received };
}

/** The next IPC message of a child; rejects if it exits first. */
function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`drain child exited (${signal ?? code}) before answering`));
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as T);
    });
    child.once('exit', onExit);
  });
}

/** Times `go()` until all answers arrive, then verifies them. */
async function timedRound(
  count: number,
  go: () => Promise<readonly (readonly number[])[]>,
): Promise<DrainRound> {
  const begin = process.hrtime.bigint();
  const got = await go();
  const wallNs = Number(process.hrtime.bigint() - begin);
  return { wallNs, ...verify(count, got) };
}

const CHILD = path.join(BENCH_DIR, 'collections-drain-child.ts');

/** This library: `processes` forked Node children on one Deque; the parent fills it with `extend`. */
export async function nodeDrain(processes: number, count: number): Promise<DrainSystem> {
  const { directory, remove } = freshDirectory('drain');
  const deque = new Deque<string>(directory);
  const items = Array.from({ length: count }, (_, i) => itemValue(i));
  const children = Array.from({ length: processes }, () =>
    fork(CHILD, [directory], {
      cwd: path.dirname(BENCH_DIR), // where `--import tsx` resolves
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  await Promise.all(children.map((child) => nextMessage(child)));
  return {
    id: 'library',
    label: 'this library',
    note: `${processes} Node processes (child_process.fork, tsx), each \`popLeft()\` until undefined`,
    round: async () => {
      deque.clear();
      deque.extend(items);
      return timedRound(count, async () => {
        const answers = children.map((child) => nextMessage<{ items: number[] }>(child));
        for (const child of children) child.send('go');
        return (await Promise.all(answers)).map((answer) => answer.items);
      });
    },
    close: async () => {
      const exits = children.map((child) => new Promise((resolve) => child.once('exit', resolve)));
      for (const child of children) if (child.connected) child.send('exit');
      await Promise.all(exits);
      deque.close();
      remove();
    },
  };
}

/** Python's diskcache: `processes` python_collections.py processes on one Deque(directory=…). */
export async function pythonDrain(
  python: string,
  processes: number,
  count: number,
): Promise<DrainSystem> {
  const { directory, remove } = freshDirectory('drain-python');
  const workers = Array.from(
    { length: processes },
    () => new PythonWorker(python, 'python_collections.py'),
  );
  try {
    // The first fill creates the cache; the drainers then open it one after the other.
    await workers[0]!.send({ cmd: 'fill', directory, count: 0 });
    for (const worker of workers) await worker.send({ cmd: 'openDrain', directory });
  } catch (error) {
    for (const worker of workers) await worker.close();
    remove();
    throw error;
  }
  return {
    id: 'python',
    label: 'Python diskcache',
    note: `${processes} /usr/bin/python3 processes (spawned by Node), each \`popleft()\` until IndexError; filled by Python in one transaction`,
    round: async () => {
      const filled = await workers[0]!.send({ cmd: 'fill', directory, count });
      if (filled.length !== count)
        throw new Error(`Python fill left ${String(filled.length)} items, expected ${count}`);
      return timedRound(count, async () => {
        const answers = await Promise.all(workers.map((worker) => worker.send({ cmd: 'drain' })));
        return answers.map((answer) => answer.items as number[]);
      });
    },
    close: async () => {
      for (const worker of workers) {
        await worker.send({ cmd: 'close' });
        await worker.close();
      }
      remove();
    },
  };
}
