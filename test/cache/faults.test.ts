/**
 * Fault tests (issue 12): kill -9 during large sets and inside transactions, then check();
 * check({fix}) beside concurrent large sets loses no value; bad input on every public method
 * changes nothing in the store or the directory. (Full disk: storage-errors.test.ts; read-only
 * mount: read-only.test.ts.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Cache, Deque, FanoutCache, Index, WorkQueue } from '../../src/index.js';
import { ROOT } from '../cli/run-cli.js';
import { exited } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

const DIST = JSON.stringify(path.join(ROOT, 'dist/index.js'));

/** Runs an ES module script in a child node (the built library); its stdout lines go to `onLine`. */
function child(
  script: string,
  args: string[],
  onLine: (line: string) => void = () => {},
): ChildProcess {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  return proc;
}

/** Runs `script`, SIGKILLs it `delayMs` after its first output line; resolves on exit. */
async function killAfterFirstLine(script: string, args: string[], delayMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const proc = child(script, args, () => {
    timer ??= setTimeout(() => proc.kill('SIGKILL'), delayMs);
  });
  const status = await exited(proc);
  clearTimeout(timer);
  expect(status).toBe('SIGKILL');
}

/** check() finds at most the young unknown files a killed write left; once aged, fix removes them. */
function expectCleanAfterFix(dir: string): void {
  using cache = new Cache(dir);
  const warnings = cache.check();
  for (const warning of warnings) expect(warning.kind).toBe('unknown-file');
  // The grace period protects files of writes in progress; these are from dead writers.
  const old = new Date(Date.now() - 3_600_000);
  for (const warning of warnings) fs.utimesSync(warning.path!, old, old);
  cache.check({ fix: true });
  expect(cache.check()).toEqual([]);
}

describe('kill -9 mid-write', () => {
  it('during 8 MB sets: every stored value is whole, then check() is clean', async () => {
    const dir = tempDir('kill-set');
    const script = `
      const { Cache } = await import(${DIST});
      const cache = new Cache(process.argv[1]);
      for (let i = 0; ; i++) {
        cache.set(process.argv[2] + i, Buffer.alloc(8 * 2 ** 20, i & 255));
        console.log(i);
      }`;
    for (let round = 0; round < 4; round++)
      await killAfterFirstLine(script, [dir, `r${round}-`], 50 + round * 70);
    using cache = new Cache(dir);
    expect(cache.size).toBeGreaterThanOrEqual(4);
    for (const key of cache.keys()) {
      const value = cache.get(key) as Buffer;
      const i = Number(String(key).split('-')[1]);
      expect(value.length).toBe(8 * 2 ** 20);
      expect(value[0] === (i & 255) && value.at(-1) === (i & 255)).toBe(true);
    }
    cache.close();
    expectCleanAfterFix(dir);
  }, 180_000);

  it('inside transactions of ten sets (one large): each transaction is all there or not at all', async () => {
    const dir = tempDir('kill-transact');
    const script = `
      const { Cache } = await import(${DIST});
      const cache = new Cache(process.argv[1]);
      for (let n = 0; ; n++) {
        cache.transact(() => {
          for (let j = 0; j < 10; j++)
            cache.set(process.argv[2] + n + '-' + j, j === 5 ? Buffer.alloc(4 * 2 ** 20, n & 255) : { n, j });
        });
        console.log(n);
      }`;
    for (let round = 0; round < 4; round++)
      await killAfterFirstLine(script, [dir, `r${round}-`], 30 + round * 60);
    using cache = new Cache(dir);
    const groups = new Map<string, number>();
    for (const key of cache.keys()) {
      const group = String(key).replace(/-\d+$/, '');
      groups.set(group, (groups.get(group) ?? 0) + 1);
    }
    expect(groups.size).toBeGreaterThanOrEqual(4);
    for (const [group, count] of groups) expect(`${group}: ${count}`).toBe(`${group}: 10`);
    cache.close();
    expectCleanAfterFix(dir);
  }, 180_000);
});

describe('check({fix}) beside live writers', () => {
  it('loses no value of large sets committed while it runs', async () => {
    const dir = tempDir('fix-live');
    new Cache(dir).close();
    const script = `
      const { Cache } = await import(${DIST});
      const cache = new Cache(process.argv[1]);
      for (let i = 0; i < 40; i++)
        cache.set(process.argv[2] + i, Buffer.alloc(2 ** 20 + i, i));
      console.log('done');`;
    const writers = [child(script, [dir, 'a']), child(script, [dir, 'b'])];
    const done = Promise.all(writers.map(exited));
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    let fixes = 0;
    using cache = new Cache(dir);
    while (!finished) {
      cache.check({ fix: true });
      fixes++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await done).toEqual([0, 0]);
    expect(fixes).toBeGreaterThan(2);
    for (const prefix of ['a', 'b'])
      for (let i = 0; i < 40; i++) {
        const value = cache.get(`${prefix}${i}`) as Buffer | undefined;
        expect(`${prefix}${i}: ${value?.length}`).toBe(`${prefix}${i}: ${2 ** 20 + i}`);
      }
    expect(cache.check()).toEqual([]);
  }, 180_000);
});

/** Everything a bad call could change: the files (but the database's own) with sizes, and rows. */
function snapshot(dir: string): unknown {
  const files = (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((name) => !name.includes('cache.db'))
    .sort()
    .map((name) => {
      const stat = fs.statSync(path.join(dir, name));
      return `${name} ${stat.isDirectory() ? 'dir' : stat.size}`;
    });
  const db = new Database(path.join(dir, 'cache.db'), { readonly: true });
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[];
  const rows = Object.fromEntries(
    tables.map((table) => [
      table,
      db
        .prepare(
          table === 'Settings'
            ? "SELECT * FROM Settings WHERE key NOT IN ('hits', 'misses') ORDER BY key"
            : `SELECT * FROM "${table}" ORDER BY rowid`,
        )
        .all(),
    ]),
  );
  db.close();
  return { files, rows };
}

const big = Buffer.alloc(100_000, 9);

/** The calls that did not throw a TypeError or RangeError (with what they did instead). */
function rejectedCalls(calls: [string, () => unknown][]): string[] {
  const wrong: string[] = [];
  for (const [name, call] of calls) {
    try {
      call();
      wrong.push(`${name}: no error`);
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof RangeError))
        wrong.push(`${name}: ${(error as Error)?.name} ${(error as Error)?.message}`);
    }
  }
  return wrong;
}
const notAKey = Symbol('k') as never;
const never = undefined as never;

describe('bad input on every public method changes nothing', () => {
  it('Cache: each call throws TypeError or RangeError; the store and the directory are unchanged', async () => {
    const dir = tempDir('bad-input');
    using cache = new Cache(dir);
    cache.set('a', 1);
    cache.set('file', big);
    cache.push('queued');
    const before = snapshot(dir);
    const calls: [string, () => unknown][] = [
      ['set key', () => cache.set(notAKey, big)],
      ['set value', () => cache.set('b', never)],
      ['set expire', () => cache.set('b', big, { expire: 'soon' as never })],
      ['set tag', () => cache.set('b', big, { tag: {} as never })],
      ['add expire', () => cache.add('b', big, { expire: Number.NaN })],
      ['add key', () => cache.add(() => 1, big)],
      ['get key', () => cache.get(notAKey)],
      ['getEntry key', () => cache.getEntry(Number.NaN)],
      ['has key', () => cache.has(undefined)],
      ['delete key', () => cache.delete(notAKey)],
      ['incr delta', () => cache.incr('a', 'x' as never)],
      ['incr key', () => cache.incr(notAKey)],
      ['decr delta', () => cache.decr('a', Number.NaN)],
      ['touch expire', () => cache.touch('a', { expire: 'x' as never })],
      ['pop key', () => cache.pop(notAKey)],
      ['push value', () => cache.push(never)],
      ['push expire', () => cache.push(big, { expire: Number.NaN })],
      ['push side', () => cache.push(big, { side: 'middle' as never })],
      ['pushMany', () => cache.pushMany(42 as never)],
      ['pull side', () => cache.pull({ side: 'up' as never })],
      ['peek side', () => cache.peek({ side: 1 as never })],
      ['expire now', () => cache.expire('now' as never)],
      ['evict tag', () => cache.evict({} as never)],
      ['check fix', () => cache.check({ fix: 'yes' as never })],
      ['reset name', () => cache.reset(42 as never)],
      ['reset value', () => cache.reset('cullLimit', -3)],
      ['reset policy', () => cache.reset('evictionPolicy', 'fifo')],
      ['transact fn', () => cache.transact('nope' as never)],
      ['memoize options', () => cache.memoize('daily' as never)],
      ['read key', () => cache.read(notAKey)],
      ['stats', () => cache.stats({ enable: 'yes' as never })],
    ];
    expect(rejectedCalls(calls)).toEqual([]);
    await expect(
      cache.setStream('s', fs.createReadStream(__filename), { expire: 'x' as never }),
    ).rejects.toThrow(TypeError);
    await expect(cache.async.set('b', big, { tag: [] as never })).rejects.toThrow(TypeError);
    expect(snapshot(dir)).toEqual(before);
    expect(cache.get('file')).toEqual(big);
  });

  it('FanoutCache, Deque, Index and WorkQueue: bad calls throw and change nothing', () => {
    const root = tempDir('bad-input-collections');
    const dirs = ['fanout', 'deque', 'index', 'queue'].map((name) => path.join(root, name));
    const [fanoutDir, dequeDir, indexDir, queueDir] = dirs as [string, string, string, string];
    using fanout = new FanoutCache(fanoutDir, { shards: 2 });
    using deque = new Deque(dequeDir);
    using index = new Index(indexDir);
    using queue = new WorkQueue(queueDir);
    fanout.set('a', big);
    deque.append(big);
    index.set('a', big);
    queue.put({ job: 1 });
    const snapshots = () => [
      snapshot(path.join(fanoutDir, '000')),
      snapshot(path.join(fanoutDir, '001')),
      snapshot(dequeDir),
      snapshot(indexDir),
      snapshot(queueDir),
    ];
    const before = snapshots();
    const calls: [string, () => unknown][] = [
      ['fanout set', () => fanout.set(notAKey, big)],
      ['fanout set expire', () => fanout.set('b', big, { expire: 'x' as never })],
      ['fanout incr', () => fanout.incr('n', 'x' as never)],
      ['fanout evict', () => fanout.evict({} as never)],
      ['deque append', () => deque.append(never)],
      ['deque at', () => deque.at(1.5)],
      ['deque setAt', () => deque.setAt('x' as never, big)],
      ['deque rotate', () => deque.rotate(Number.NaN)],
      ['deque extend', () => deque.extend(42 as never)],
      ['index set', () => index.set(notAKey, big)],
      ['index set value', () => index.set('b', never)],
      ['index setDefault', () => index.setDefault(notAKey, big)],
      ['index popItem', () => index.popItem({ last: 'yes' as never })],
      ['index peekItem', () => index.peekItem({ last: 1 as never })],
      ['queue put key', () => queue.put({ job: 2 }, { key: {} as never })],
      ['queue put delay', () => queue.put({ job: 2 }, { delaySeconds: -1 })],
      ['queue put payload', () => queue.put(never)],
      ['queue take lease', () => queue.take({ leaseSeconds: 'x' as never })],
      ['queue ack', () => queue.ack({} as never)],
    ];
    expect(rejectedCalls(calls)).toEqual([]);
    expect(snapshots()).toEqual(before);
    expect(queue.stats()).toMatchObject({ pending: 1, leased: 0 });
  });
});
