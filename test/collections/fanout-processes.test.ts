// FanoutCache across real processes on one directory: exact counters under contention, one
// winner of a race to add, waiting with retry while another process holds a shard's lock, and a
// writer killed with SIGKILL losing nothing it acknowledged.
import { describe, expect, it } from 'vitest';
import { FanoutCache } from '../../src/index.js';
import { exited, forkFixture, message, runChildren } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

/** Keys that cover every shard of a `shards`-shard cache, `perShard` each. */
function keysOverShards(shards: number, perShard: number): string[] {
  const probe = new FanoutCache(tempDir('probe'), { shards });
  const keys: string[] = [];
  const counts = new Array<number>(shards).fill(0);
  for (let i = 0; keys.length < shards * perShard; i++) {
    const key = `counter${i}`;
    const shard = probe.disk.hash(key) % shards;
    if (counts[shard]! < perShard) {
      counts[shard]!++;
      keys.push(key);
    }
  }
  probe.close();
  return keys;
}

describe('FanoutCache shared by processes', () => {
  it('4 processes x 1,000 incr(retry) on keys spread over the shards give exact totals', async () => {
    const dir = tempDir('fanout-mp');
    const keys = keysOverShards(4, 2);
    await runChildren(
      'fanout-incr.ts',
      Array.from({ length: 4 }, () => [dir, '4', '1000', keys.join(',')]),
    );
    using cache = new FanoutCache(dir, { shards: 4 });
    for (const key of keys) expect(cache.get(key), key).toBe(500);
    expect(keys.reduce((total, key) => total + (cache.get(key) as number), 0)).toBe(4000);
    expect(cache.check()).toEqual([]);
  });

  it('8 processes adding one key: exactly one wins, and its value is stored', async () => {
    const dir = tempDir('fanout-mp');
    new FanoutCache(dir, { shards: 4 }).close(); // create the shards before the race
    const children = Array.from({ length: 8 }, () =>
      forkFixture('fanout-add.ts', [dir, '4', 'the-key']),
    );
    await Promise.all(children.map((child) => message(child, (m) => m === 'ready')));
    const results = children.map((child) =>
      message<{ won: boolean; pid: number }>(child, (m) => typeof m === 'object'),
    );
    for (const child of children) child.send('go');
    const outcomes = await Promise.all(results);
    expect(await Promise.all(children.map(exited))).toEqual(new Array(8).fill(0));
    const winners = outcomes.filter((outcome) => outcome.won);
    expect(winners).toHaveLength(1);
    using cache = new FanoutCache(dir, { shards: 4 });
    expect(cache.get('the-key')).toBe(winners[0]!.pid);
  });

  it('retry: true waits while another process holds the shard, then succeeds', async () => {
    const dir = tempDir('fanout-mp');
    using cache = new FanoutCache(dir, { shards: 4 });
    let key = 'k0';
    for (let i = 0; cache.disk.hash(key) % 4 !== 2; i++) key = `k${i}`;
    const holder = forkFixture('fanout-lock-holder.ts', [dir, '002', '300']);
    await message(holder, (m) => m === 'locked');
    expect(cache.set(key, 'v')).toBe(false);
    expect(cache.has(key)).toBe(false);
    await new Promise<void>((resolve, reject) =>
      holder.send('release', (error) => (error ? reject(error) : resolve())),
    );
    // The holder keeps the lock 300 ms more: this call waits for it instead of giving up.
    expect(cache.set(key, 'v', { retry: true })).toBe(true);
    expect(await exited(holder)).toBe(0);
    expect(cache.get(key)).toBe('v');
  });

  it('a batch remover keeps retrying a locked shard and sums every shard', async () => {
    const dir = tempDir('fanout-mp');
    using cache = new FanoutCache(dir, { shards: 4 });
    for (let i = 0; i < 300; i++) cache.set(i, i);
    const holder = forkFixture('fanout-lock-holder.ts', [dir, '001', '300']);
    await message(holder, (m) => m === 'locked');
    await new Promise<void>((resolve, reject) =>
      holder.send('release', (error) => (error ? reject(error) : resolve())),
    );
    expect(cache.clear()).toBe(300);
    expect(await exited(holder)).toBe(0);
    expect(cache.size).toBe(0);
  });

  it('a writer killed with SIGKILL loses nothing it acknowledged and leaves no lock behind', async () => {
    const dir = tempDir('fanout-mp');
    const writer = forkFixture('fanout-writer.ts', [dir, '4']);
    const acknowledged = await message<number>(writer, (m) => typeof m === 'number' && m >= 300);
    writer.kill('SIGKILL');
    expect(await exited(writer)).toBe('SIGKILL');
    using cache = new FanoutCache(dir, { shards: 4 });
    const lost: string[] = [];
    for (let i = 0; i <= acknowledged; i++) {
      const value = cache.get(`w${i}`);
      const intact =
        i % 5 === 0
          ? Buffer.isBuffer(value) && value.equals(Buffer.alloc(40_000, i % 256))
          : value === `value${i}`;
      if (!intact) lost.push(`w${i}`);
    }
    expect(lost).toEqual([]);
    // A value file written just before the kill may be left unreferenced; nothing else is wrong.
    expect(
      cache
        .check()
        .filter((warning) => warning.kind !== 'unknown-file' && warning.kind !== 'empty-dir'),
    ).toEqual([]);
    for (let shard = 0; shard < 4; shard++) {
      let key = 'after0';
      for (let i = 0; cache.disk.hash(key) % 4 !== shard; i++) key = `after${i}`;
      expect(cache.set(key, shard), `shard ${shard} writable`).toBe(true);
    }
  });
});
