import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Cache, ClosedError, Deque, Index, Timeout, WorkQueue } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

describe('opening a cache', () => {
  it('reads an up-to-date cache without the write lock, even while another process holds it', () => {
    const dir = tempDir('open');
    const first = new Cache(dir, { sizeLimit: 1_000_000 });
    first.set('k', 'v');
    const other = new Database(`${dir}/cache.db`);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      // Same settings as stored: nothing to write, so the open does not wait.
      const second = new Cache(dir, { timeout: 0.05 });
      expect(second.get('k')).toBe('v');
      expect(second.settings.size_limit).toBe(1_000_000);
      expect(() => second.set('k', 'w')).toThrow(Timeout);
      second.close();
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    first.close();
  });

  it('writes settings that changed and keeps their SQLite types', () => {
    const dir = tempDir('open');
    new Cache(dir).close();
    const cache = new Cache(dir, { cullLimit: 3, evictionPolicy: 'least-recently-used' });
    const db = new Database(`${dir}/cache.db`, { readonly: true });
    const row = (name: string) =>
      db.prepare('SELECT value, typeof(value) AS type FROM Settings WHERE key = ?').get(name);
    expect(row('cull_limit')).toEqual({ value: 3, type: 'integer' });
    expect(row('eviction_policy')).toEqual({ value: 'least-recently-used', type: 'text' });
    expect(
      db.prepare("SELECT name FROM sqlite_master WHERE name = 'Cache_access_time'").get(),
    ).toBeDefined();
    db.close();
    cache.close();
  });

  it('honours timeout when it must write while another connection holds the lock', () => {
    const dir = tempDir('open');
    new Cache(dir).close();
    const other = new Database(`${dir}/cache.db`);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      // A changed setting must be written: the open waits `timeout` seconds, not a fixed 60 s.
      const started = performance.now();
      expect(() => new Cache(dir, { cullLimit: 7, timeout: 0.2 })).toThrow(Timeout);
      expect(performance.now() - started).toBeLessThan(30_000);
      expect(() => new Cache(dir, { cullLimit: 7, timeout: 0.2 })).toThrow(/within 0\.2 s/);
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    const cache = new Cache(dir, { cullLimit: 7, timeout: 0.2 });
    expect(cache.settings.cull_limit).toBe(7);
    cache.close();
  });

  it('throws ClosedError from every kind of object used after close()', () => {
    const dir = tempDir('open');
    const cache = new Cache(dir);
    cache.set('k', 1);
    cache.close();
    for (const use of [
      () => cache.get('k'),
      () => cache.set('k', 2),
      () => cache.has('k'),
      () => cache.delete('k'),
      () => cache.push(1),
      () => cache.pull(),
      () => [...cache.keys()],
      () => cache.volume(),
      () => cache.size,
      () => cache.transact(() => 1),
      () => cache.check(),
      () => cache.reset('cull_limit'),
    ]) {
      expect(use).toThrow(ClosedError);
    }
    expect(cache.closed).toBe(true);
    const deque = new Deque(tempDir('open'));
    deque.close();
    expect(() => deque.append(1)).toThrow(ClosedError);
    const index = new Index(tempDir('open'));
    index.close();
    expect(() => index.set('a', 1)).toThrow(ClosedError);
    const queue = new WorkQueue(tempDir('open'));
    queue.close();
    expect(() => queue.put(1)).toThrow(ClosedError);
    expect(() => queue.take()).toThrow(ClosedError);
    expect(() => queue.stats()).toThrow(/closed/);
  });
});
