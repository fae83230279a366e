/**
 * check({fix}): what it reports and repairs (a deleted value file, a file of the wrong size, an
 * unknown file, empty directories, wrong count/size counters, a corrupted page), and that a
 * report without `fix` changes nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Cache, CheckWarning } from '../../src/index.js';
import { dirsUnder, filesUnder, openCache, rawDb, storedRows } from '../fixtures/cache-test-kit.js';

function kinds(warnings: CheckWarning[]): string[] {
  return warnings.map((warning) => warning.kind).sort();
}

/** A cache with three file-backed values and two inline ones. */
function populated(): Cache {
  const cache = openCache({ minFileSize: 100 });
  cache.set('f1', 'a'.repeat(300));
  cache.set('f2', Buffer.alloc(400, 2));
  cache.set('f3', { list: 'c'.repeat(300) });
  cache.set('i1', 1);
  cache.set('i2', 'short');
  return cache;
}

/** Ages a file past check()'s grace period for unknown files (a fresh one may be a write in progress). */
function aged(file: string): void {
  const past = new Date(Date.now() - 10 * 60_000);
  fs.utimesSync(file, past, past);
}

describe('check', () => {
  it('a healthy cache has no warnings, WAL files included', () => {
    const cache = populated();
    expect(fs.readdirSync(cache.directory)).toEqual(
      expect.arrayContaining(['cache.db', 'cache.db-wal', 'cache.db-shm']),
    );
    expect(cache.check()).toEqual([]);
    expect(cache.check({ fix: true })).toEqual([]);
    expect(cache.get('f1')).toBe('a'.repeat(300));
  });

  it('a deleted value file: reported, and fix deletes the row', () => {
    const cache = populated();
    const row = storedRows(cache.directory).find((r) => r.key === 'f2')!;
    const full = path.join(cache.directory, row.filename!);
    fs.rmSync(full);
    const warnings = cache.check();
    expect(warnings.filter((warning) => warning.kind !== 'empty-dir')).toEqual([
      { kind: 'file-not-found', message: expect.stringContaining(full), path: full },
    ]);
    // Its directory is left empty (unless another value file shares it).
    const emptied = fs.readdirSync(path.dirname(full)).length === 0;
    expect(
      warnings.filter((warning) => warning.kind === 'empty-dir').map((warning) => warning.path),
    ).toEqual(emptied ? [path.dirname(full)] : []);
    expect(cache.check()).toEqual(warnings); // no fix: nothing changed
    expect(cache.size).toBe(5);
    expect(kinds(cache.check({ fix: true }))).toEqual(kinds(warnings));
    expect(cache.size).toBe(4);
    expect(cache.has('f2')).toBe(false);
    // The row's directories may now be empty: a second pass reports and removes them.
    const rest = cache.check({ fix: true });
    expect(rest.every((warning) => warning.kind === 'empty-dir')).toBe(true);
    expect(cache.check({ fix: true }).every((warning) => warning.kind === 'empty-dir')).toBe(true);
    expect(cache.check()).toEqual([]);
  });

  it('a value file of the wrong size: reported, and fix corrects the size', () => {
    const cache = populated();
    const row = storedRows(cache.directory).find((r) => r.key === 'f1')!;
    const full = path.join(cache.directory, row.filename!);
    fs.appendFileSync(full, 'extra');
    const volume = cache.volume();
    expect(cache.check()).toEqual([
      { kind: 'wrong-file-size', message: expect.stringContaining('300'), path: full },
    ]);
    expect(kinds(cache.check({ fix: true }))).toEqual(['wrong-file-size']);
    expect(cache.check()).toEqual([]);
    expect(storedRows(cache.directory).find((r) => r.key === 'f1')!.size).toBe(305n);
    expect(cache.volume()).toBeGreaterThanOrEqual(volume + 5 - 4096); // size counter follows the rows
  });

  it('an unknown file and an empty directory: reported, and fix removes them', () => {
    const cache = populated();
    const stray = path.join(cache.directory, 'ab', 'cd', '0123456789abcdef0123456789ab.val');
    fs.mkdirSync(path.dirname(stray), { recursive: true });
    fs.writeFileSync(stray, 'orphan');
    aged(stray);
    fs.mkdirSync(path.join(cache.directory, 'ef', '01'), { recursive: true });
    const warnings = cache.check();
    expect(kinds(warnings)).toEqual(['empty-dir', 'unknown-file']);
    expect(warnings.find((w) => w.kind === 'unknown-file')?.path).toBe(stray);
    expect(fs.existsSync(stray)).toBe(true);
    // Empty directories go one level per pass, like diskcache.
    for (let pass = 0; pass < 3 && cache.check({ fix: true }).length > 0; pass++);
    expect(cache.check()).toEqual([]);
    expect(fs.existsSync(stray)).toBe(false);
    expect(
      // Only the directories this test made: a value file of `populated()` may itself live
      // under a random `ef/..` or `ab/..` directory (1 in 256).
      dirsUnder(cache.directory).filter((dir) => dir === 'ef/01' || dir === 'ab/cd'),
    ).toEqual([]);
    expect(cache.get('f3')).toEqual({ list: 'c'.repeat(300) });
  });

  it('fix leaves an unknown file younger than the grace period: a concurrent writer may own it', () => {
    const cache = populated();
    const fresh = path.join(cache.directory, 'ab', 'cd', 'fedcba9876543210fedcba987654.val');
    fs.mkdirSync(path.dirname(fresh), { recursive: true });
    fs.writeFileSync(fresh, 'a value whose row is being committed');
    const warnings = cache.check({ fix: true });
    expect(warnings.find((w) => w.kind === 'unknown-file')?.message).toMatch(/younger than 60 s/);
    expect(fs.existsSync(fresh)).toBe(true);
    aged(fresh);
    cache.check({ fix: true });
    expect(fs.existsSync(fresh)).toBe(false);
  });

  it('wrong count and size counters: reported, and fix recomputes them', () => {
    const cache = populated();
    const db = rawDb(cache.directory);
    db.prepare("UPDATE Settings SET value = 99 WHERE key = 'count'").run();
    db.prepare("UPDATE Settings SET value = 1 WHERE key = 'size'").run();
    db.close();
    expect(cache.size).toBe(99);
    expect(kinds(cache.check())).toEqual(['count', 'size']);
    expect(kinds(cache.check({ fix: true }))).toEqual(['count', 'size']);
    expect(cache.size).toBe(5);
    const fileBytes = storedRows(cache.directory).reduce((sum, row) => sum + Number(row.size), 0);
    const settings = rawDb(cache.directory)
      .prepare("SELECT value FROM Settings WHERE key = 'size'")
      .pluck()
      .get();
    expect(settings).toBe(BigInt(fileBytes));
    expect(cache.check()).toEqual([]);
  });

  it('a corrupted header field is an integrity warning; fix (VACUUM) repairs it', () => {
    const cache = openCache();
    cache.transact(() => {
      for (let i = 0; i < 1000; i++) cache.set(i, i);
    });
    cache.close();
    // diskcache's test: the "largest root b-tree page" field of the header (offset 52).
    const fd = fs.openSync(path.join(cache.directory, 'cache.db'), 'r+');
    fs.writeSync(fd, Buffer.from([0, 1]), 0, 2, 52);
    fs.closeSync(fd);
    const reopened = openCache(undefined, cache.directory);
    const warnings = reopened.check();
    expect(warnings).toEqual([{ kind: 'integrity', message: expect.stringMatching(/rootpage/) }]);
    expect(reopened.check()).toHaveLength(1);
    expect(kinds(reopened.check({ fix: true }))).toEqual(['integrity']);
    expect(reopened.check()).toEqual([]);
    expect(reopened.get(500)).toBe(500);
    expect(reopened.size).toBe(1000);
  });

  it('check holds the write lock: a second opener waits or times out', () => {
    const cache = populated();
    const impatient = openCache({ timeout: 0.05 }, cache.directory);
    // Run check from inside a transaction of `cache`; the second object cannot write meanwhile.
    cache.transact(() => {
      expect(cache.check()).toEqual([]);
      expect(() => impatient.set('x', 1)).toThrow(/write lock/);
    });
    expect(impatient.set('x', 1)).toBe(true);
    expect(filesUnder(cache.directory)).toHaveLength(3);
  });
});
