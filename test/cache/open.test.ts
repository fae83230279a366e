import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Cache, Timeout } from '../../src/index.js';
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
});
