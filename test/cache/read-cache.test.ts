// The in-process read cache (readCache option): answers from memory only while no process has
// committed, and never hands out an object that aliases what it keeps.
import type { ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache, Index } from '../../src/index.js';
import { exited, forkFixture, message, sent } from '../helpers/children.js';
import { nativeMissing } from '../helpers/native.js';
import { runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

type Value = number | string | { n: number; s: string };
interface Stored {
  readonly value: Value;
  readonly tag: string | null;
}
type Command =
  | { op: 'read'; key: string }
  | { op: 'set'; by: 'child' | 'parent'; key: string; value: Value; tag: string | null }
  | { op: 'expired'; by: 'child' | 'parent'; key: string; value: Value }
  | { op: 'delete'; by: 'child' | 'parent'; key: string }
  | { op: 'evict'; tag: string }
  | { op: 'clear' }
  | { op: 'expireNow'; key: string };

const key = fc.constantFrom('k0', 'k1', 'k2');
const value: fc.Arbitrary<Value> = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom('a', 'bb', ''),
  fc.record({ n: fc.integer({ min: 0, max: 3 }), s: fc.constantFrom('x', 'y') }),
);
// Mostly the child: a write by the parent drops the read cache, hiding what the test looks for.
const by = fc.constantFrom('child' as const, 'child' as const, 'child' as const, 'parent' as const);
const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('read' as const), key }), weight: 10 },
  {
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      by,
      key,
      value,
      tag: fc.constantFrom('t0', 't1', null),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ op: fc.constant('expired' as const), by, key, value }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), by, key }), weight: 2 },
  {
    arbitrary: fc.record({ op: fc.constant('evict' as const), tag: fc.constantFrom('t0', 't1') }),
    weight: 1,
  },
  { arbitrary: fc.constant({ op: 'clear' as const }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('expireNow' as const), key }), weight: 1 },
);

const read = (k: string): Command => ({ op: 'read', key: k });
const childSet = (k: string, v: Value, tag: string | null = null): Command => ({
  op: 'set',
  by: 'child',
  key: k,
  value: v,
  tag,
});
/** Each kind of commit by the child, between two reads of a kept key (and of a kept miss). */
const EXAMPLES: [Command[]][] = [
  [[read('k0'), childSet('k0', 1), read('k0'), childSet('k0', 2), read('k0')]],
  [[childSet('k0', 1), read('k0'), { op: 'delete', by: 'child', key: 'k0' }, read('k0')]],
  [[childSet('k0', 1, 't0'), read('k0'), { op: 'evict', tag: 't0' }, read('k0')]],
  [[childSet('k0', 1), childSet('k1', 'a'), read('k0'), read('k1'), { op: 'clear' }, read('k1')]],
  [[childSet('k0', 1), read('k0'), { op: 'expireNow', key: 'k0' }, read('k0')]],
  [[read('k0'), { op: 'expired', by: 'child', key: 'k0', value: 1 }, read('k0')]],
];

/** A child process applying cache operations on command (test/fixtures/cache-ops-on-command.ts). */
class Writer {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (reply: { error?: string }) => void>();
  #next = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (reply: { done?: number; error?: string }) => {
      if (reply.done === undefined) return;
      this.#waiting.get(reply.done)?.(reply);
      this.#waiting.delete(reply.done);
    });
  }

  static async start(directory: string): Promise<Writer> {
    const child = forkFixture('cache-ops-on-command.ts', [directory]);
    await message(child, (m: { ready?: boolean }) => m.ready === true);
    return new Writer(child);
  }

  /** Sends one command and resolves once the child has committed it. */
  async do(command: Record<string, unknown>): Promise<void> {
    const id = ++this.#next;
    const reply = new Promise<{ error?: string }>((resolve) => this.#waiting.set(id, resolve));
    await sent(this.#child, { ...command, id });
    const { error } = await reply;
    if (error) throw new Error(`child: ${error}`);
  }

  async stop(): Promise<void> {
    await this.do({ op: 'exit' });
    await exited(this.#child);
  }
}

/**
 * A Cache whose read cache uses `validator`: 'data_version' turns the addon off for its open
 * (DISKCACHE_NATIVE=off); 'shm' needs the addon built (the global setup builds it; CI requires it).
 */
function openWith(
  validator: 'shm' | 'data_version',
  directory: string,
  options: ConstructorParameters<typeof Cache>[1] = {},
): Cache {
  const saved = process.env.DISKCACHE_NATIVE;
  if (validator === 'data_version') process.env.DISKCACHE_NATIVE = 'off';
  try {
    const cache = new Cache(directory, options);
    expect(cache.readCacheValidator).toBe(validator);
    return cache;
  } finally {
    if (saved === undefined) delete process.env.DISKCACHE_NATIVE;
    else process.env.DISKCACHE_NATIVE = saved;
  }
}

describe('read cache: every commit by any process is seen by the next read', () => {
  let writer: Writer;
  let directory: string;
  beforeAll(async () => {
    directory = tempDir('read-cache');
    new Cache(directory).close();
    writer = await Writer.start(directory);
  }, 60_000);
  afterAll(async () => {
    await writer?.stop();
  });

  // The WAL-index validator (the addon; the default) and the data_version fallback.
  // Without the addon (skipped where it does not load; CI requires it) only the fallback runs.
  const missing = nativeMissing();
  const variants = [
    ['shm', undefined],
    ['shm', { entries: 2, bytes: 4096 }],
    ['data_version', undefined],
  ] as const;
  for (const [validator, readCache] of variants.filter(
    ([validator]) => validator === 'data_version' || missing === undefined,
  )) {
    it(`random interleavings of a child's writes with reads (${validator}, readCache ${JSON.stringify(readCache ?? 'default')})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
          await writer.do({ op: 'clear' });
          const cache = openWith(
            validator,
            directory,
            readCache === undefined ? {} : { readCache },
          );
          const model = new Map<string, Stored>();
          try {
            for (const c of commands) {
              switch (c.op) {
                case 'read': {
                  const expected = model.get(c.key);
                  // Twice: the first may fill the read cache, the second is answered from it.
                  for (let i = 0; i < 2; i++) {
                    expect(cache.get(c.key)).toEqual(expected?.value);
                    expect(cache.has(c.key)).toBe(expected !== undefined);
                    const entry = cache.getEntry(c.key);
                    expect(entry?.value).toEqual(expected?.value);
                    if (expected) expect(entry?.tag).toBe(expected.tag);
                  }
                  break;
                }
                case 'set':
                  if (c.by === 'child')
                    await writer.do({ op: 'set', key: c.key, value: c.value, tag: c.tag });
                  else cache.set(c.key, c.value, { tag: c.tag });
                  model.set(c.key, { value: c.value, tag: c.tag });
                  break;
                case 'expired':
                  if (c.by === 'child')
                    await writer.do({ op: 'set', key: c.key, value: c.value, expire: -1 });
                  else cache.set(c.key, c.value, { expire: -1 });
                  model.delete(c.key);
                  break;
                case 'delete':
                  if (c.by === 'child') await writer.do({ op: 'delete', key: c.key });
                  else cache.delete(c.key);
                  model.delete(c.key);
                  break;
                case 'evict':
                  await writer.do({ op: 'evict', tag: c.tag });
                  for (const [k, stored] of [...model]) if (stored.tag === c.tag) model.delete(k);
                  break;
                case 'clear':
                  await writer.do({ op: 'clear' });
                  model.clear();
                  break;
                case 'expireNow':
                  // Another process makes a live entry expired (touch with a past expiry).
                  await writer.do({ op: 'touch', key: c.key, expire: -1 });
                  model.delete(c.key);
                  break;
              }
            }
          } finally {
            cache.close();
          }
        }),
        { numRuns: 40, examples: EXAMPLES },
      );
    }, 240_000);
  }
});

describe('read cache', () => {
  it('a kept entry that expires is a miss from then on, without any commit', async () => {
    const cache = new Cache(tempDir('read-cache'));
    cache.set('soon', 'v', { expire: 2 });
    expect(cache.get('soon')).toBe('v'); // kept
    const { expireTime } = cache.getEntry('soon')!;
    while (Date.now() / 1000 <= expireTime!) await new Promise((r) => setTimeout(r, 50));
    expect(cache.get('soon', { default: 'gone' })).toBe('gone');
    expect(cache.has('soon')).toBe(false);
    cache.close();
  });

  it('returned Buffers and objects are copies: mutating them never changes the cache', () => {
    const cache = new Cache(tempDir('read-cache'));
    cache.set('b', Buffer.from('abc'));
    cache.set('o', { list: [1, 2], bytes: new Uint8Array([7]) });
    cache.set('t', 1, { tag: Buffer.from('tag') });
    for (let i = 0; i < 3; i++) {
      const b = cache.get<Buffer>('b')!;
      expect(b.toString()).toBe('abc');
      b.write('zzz');
      const o = cache.get<{ list: number[]; bytes: Uint8Array }>('o')!;
      expect(o).toEqual({ list: [1, 2], bytes: new Uint8Array([7]) });
      o.list.push(3);
      o.bytes[0] = 0;
      const tag = cache.getEntry('t')!.tag as Buffer;
      expect(tag.toString()).toBe('tag');
      tag.write('xxx');
    }
    cache.close();
  });

  it("this object's own writes, and a rolled-back transaction, are seen by the next read", () => {
    const cache = new Cache(tempDir('read-cache'));
    cache.set('k', 1);
    expect(cache.get('k')).toBe(1);
    cache.set('k', 2);
    expect(cache.get('k')).toBe(2);
    expect(() =>
      cache.transact(() => {
        cache.set('k', 3);
        expect(cache.get('k')).toBe(3);
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    expect(cache.get('k')).toBe(2);
    cache.incr('n');
    expect(cache.get('n')).toBe(1);
    cache.incr('n');
    expect(cache.get('n')).toBe(2);
    expect(cache.pop('n')).toBe(2);
    expect(cache.has('n')).toBe(false);
    cache.close();
  });

  it('another Cache object in this process (another connection) is seen at once', () => {
    const directory = tempDir('read-cache');
    const a = new Cache(directory);
    const b = new Cache(directory);
    a.set('k', 'one');
    expect(b.get('k')).toBe('one');
    a.set('k', 'two');
    expect(b.get('k')).toBe('two');
    a.delete('k');
    expect(b.get('k')).toBe(undefined);
    a.close();
    b.close();
  });

  it('stays right while it stands aside (other commits between most reads) and after it resumes', () => {
    const directory = tempDir('read-cache');
    const reader = new Cache(directory);
    const writer = new Cache(directory);
    for (let i = 0; i < 300; i++) {
      writer.set('k', i);
      expect(reader.get('k')).toBe(i);
    }
    writer.set('k', 1000);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5000; i++) expect(reader.get('k')).toBe(1000 + round);
      writer.set('k', 1001 + round);
      expect(reader.get('k')).toBe(1001 + round);
      expect(reader.has('k')).toBe(true);
    }
    writer.delete('k');
    expect(reader.has('k')).toBe(false);
    reader.close();
    writer.close();
  });

  it('statistics stay exact: with statistics on every get is counted', () => {
    const cache = new Cache(tempDir('read-cache'), { statistics: true });
    cache.set('k', 1);
    for (let i = 0; i < 5; i++) cache.get('k');
    for (let i = 0; i < 3; i++) cache.get('missing');
    expect(cache.stats()).toEqual({ hits: 5, misses: 3 });
    cache.close();
  });

  it('least-recently-used still records every read (the read cache stays off)', () => {
    const directory = tempDir('read-cache');
    const cache = new Cache(directory, { evictionPolicy: 'least-recently-used' });
    cache.set('k', 1);
    const before = accessTime(directory);
    const deadline = Date.now() + 20;
    while (Date.now() < deadline) {} // let the clock move
    cache.get('k');
    expect(accessTime(directory)).toBeGreaterThan(before);
    cache.close();
  });

  it('Index reads go through it too, and see other processes', () => {
    const directory = tempDir('read-cache');
    const index = new Index<string, number>(directory);
    index.set('a', 1);
    expect(index.get('a')).toBe(1);
    const other = new Index<string, number>(directory);
    other.set('a', 2);
    expect(index.get('a')).toBe(2);
    index.close();
    other.close();
  });

  it('a write by Python diskcache is seen by the next read', () => {
    const directory = tempDir('read-cache');
    const cache = new Cache(directory);
    cache.set('k', 'node');
    expect(cache.get('k')).toBe('node');
    runPython(
      `import diskcache; c = diskcache.Cache(${JSON.stringify(directory)}); c.set('k', 'python'); c.close()`,
    );
    expect(cache.get('k')).toBe('python');
    cache.close();
  });

  it('validates the option', () => {
    const directory = tempDir('read-cache');
    expect(() => new Cache(directory, { readCache: { entries: 0 } })).toThrow(
      /readCache\.entries must be an integer >= 1, got 0/,
    );
    expect(() => new Cache(directory, { readCache: { bytes: 1.5 } })).toThrow(RangeError);
    expect(() => new Cache(directory, { readCache: 'big' as never })).toThrow(
      /readCache must be false or an object/,
    );
    expect(() => new Cache(directory, { readCache: { size: 1 } as never })).toThrow(
      /unknown option "size"/,
    );
    const off = new Cache(directory, { readCache: false });
    off.set('k', 1);
    expect(off.get('k')).toBe(1);
    off.close();
    expect(() => off.get('k')).toThrow(/closed/);
  });
});

function accessTime(directory: string): number {
  const db = new Database(`${directory}/cache.db`, { readonly: true });
  try {
    return db.prepare("SELECT access_time FROM Cache WHERE key = 'k'").pluck().get() as number;
  } finally {
    db.close();
  }
}
