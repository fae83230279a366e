/**
 * A corrupt or foreign Settings value or table schema is a DatabaseError that names the setting
 * (or the column), never a raw SqliteError and never a silent change of behaviour (a size_limit of
 * 'lots' once turned culling off). Opening with the option overwrites a bad stored value.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Cache, DatabaseError } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

/** A cache directory whose cache.db then had `sql` run on it by another program. */
function tampered(sql: string): string {
  const dir = tempDir('foreign');
  const cache = new Cache(dir);
  cache.set('kept', 'value');
  cache.close();
  const db = new Database(path.join(dir, 'cache.db'));
  db.exec(sql);
  db.close();
  return dir;
}

/** The error of opening `dir` (fails the test if it opens). */
function openError(dir: string): Error {
  try {
    new Cache(dir).close();
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${dir} opened`);
}

describe('a corrupt or foreign stored setting', () => {
  const cases: [string, string, string, RegExp][] = [
    ['size_limit', "'lots'", 'sizeLimit', /size_limit is "lots", expected a number of bytes/],
    ['size_limit', '-5', 'sizeLimit', /size_limit is -5/],
    ['cull_limit', '-1', 'cullLimit', /cull_limit is -1, expected an integer >= 0/],
    ['cull_limit', '2.5', 'cullLimit', /cull_limit is 2.5/],
    ['cull_limit', 'NULL', 'cullLimit', /cull_limit is null/],
    ['eviction_policy', "'fifo'", 'evictionPolicy', /eviction_policy is "fifo", expected one of/],
    ['statistics', "'yes'", 'statistics', /statistics is "yes", expected 0 or 1/],
    ['tag_index', '7', 'tagIndex', /tag_index is 7/],
    ['disk_min_file_size', "'big'", 'minFileSize', /disk_min_file_size is "big"/],
    [
      'sqlite_journal_mode',
      "'sideways'",
      'sqlite.journalMode',
      /sqlite_journal_mode is "sideways"/,
    ],
    ['sqlite_synchronous', '9', 'sqlite.synchronous', /sqlite_synchronous is 9/],
    ['sqlite_mmap_size', "'x'", 'sqlite.mmapSize', /sqlite_mmap_size is "x"/],
  ];
  it.each(cases)(
    '%s = %s is a DatabaseError naming it and the option %s',
    (name, sql, option, message) => {
      const dir = tampered(`UPDATE Settings SET value = ${sql} WHERE key = '${name}'`);
      const before = fs.readFileSync(path.join(dir, 'cache.db'));
      const error = openError(dir);
      expect(error).toBeInstanceOf(DatabaseError);
      expect(error.message).toMatch(message);
      expect(error.message).toContain(`option ${option}`);
      // Nothing was changed by the failed open.
      expect(fs.readFileSync(path.join(dir, 'cache.db')).equals(before)).toBe(true);
    },
  );

  it('opening with the option overwrites the bad value, and the cache works again', () => {
    const dir = tampered("UPDATE Settings SET value = 'lots' WHERE key = 'size_limit'");
    using fixed = new Cache(dir, { sizeLimit: 10_000 });
    expect(fixed.get('kept')).toBe('value');
    expect(fixed.reset('size_limit')).toBe(10_000);
    using again = new Cache(dir);
    expect(again.get('kept')).toBe('value');
  });

  it('a bad value written while the cache is open is a DatabaseError on reset(name)', () => {
    const dir = tempDir('foreign-reset');
    using cache = new Cache(dir);
    const db = new Database(path.join(dir, 'cache.db'));
    db.exec("UPDATE Settings SET value = 'lots' WHERE key = 'cull_limit'");
    db.close();
    expect(() => cache.reset('cull_limit')).toThrow(/cull_limit is "lots"/);
    expect(() => cache.reset('cullLimit')).toThrow(DatabaseError);
  });
});

describe('a foreign table schema', () => {
  it.each([
    ['ALTER TABLE Settings ADD COLUMN extra', /Settings table has an unknown column extra/],
    ['ALTER TABLE Cache ADD COLUMN extra INTEGER', /Cache table has an unknown column extra/],
    ['ALTER TABLE Cache DROP COLUMN filename', /Cache table has no column filename/],
    [
      'DROP TABLE Settings; CREATE TABLE Settings (key TEXT NOT NULL UNIQUE)',
      /Settings table has no column value/,
    ],
  ])('%s is a DatabaseError naming the column', (sql, message) => {
    const dir = tampered(sql);
    const error = openError(dir);
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error.constructor.name).toBe('DatabaseError');
    expect(error.message).toMatch(message);
    expect(error.message).toContain('is not a diskcache database');
  });
});
