/**
 * Storage failures become the library's named errors and leave nothing behind: a full disk
 * (a small tmpfs, mounted when the test runs as root — CI does) gives StorageFullError with no
 * partial value file, reads go on, and writes work again once space is freed; a call rejected for
 * a bad argument writes no value file at all.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache, DatabaseError, StorageFullError } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

/** Value files under a cache directory. */
function valueFiles(directory: string): string[] {
  return (fs.readdirSync(directory, { recursive: true }) as string[]).filter((name) =>
    name.endsWith('.val'),
  );
}

const mounted: string[] = [];
/** Unmounts the tmpfs (before tempDir's own clean-up removes the directory). */
function unmountAll(): void {
  for (const dir of mounted.splice(0)) spawnSync('umount', [dir]);
}
afterAll(unmountAll);

/** A directory on a tmpfs of `size` (e.g. '3m'), or undefined where mounting is not allowed. */
function smallDisk(size: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = tempDir('full-disk');
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (result.status !== 0) return undefined;
  mounted.push(dir);
  return dir;
}

describe('arguments are checked before any file is written', () => {
  it('set, add and setStream rejected for a bad expire or tag leave no value file', async () => {
    const dir = tempDir('no-debris');
    using cache = new Cache(dir);
    const big = Buffer.alloc(100_000, 1);
    expect(() => cache.set('k', big, { expire: 'soon' as never })).toThrow(TypeError);
    expect(() => cache.add('k', big, { tag: {} as never })).toThrow(TypeError);
    expect(() => cache.push(big, { expire: Number.NaN })).toThrow(TypeError);
    await expect(
      cache.setStream('s', fs.createReadStream(__filename), { tag: {} as never }),
    ).rejects.toThrow(TypeError);
    expect(valueFiles(dir)).toEqual([]);
    expect(cache.size).toBe(0);
  });
});

// Mounting a tmpfs needs root (CI runs as root); elsewhere this group says why it skipped.
const disk = smallDisk('3m');
describe.skipIf(disk === undefined)('a full disk (a 3 MiB tmpfs; needs root)', () => {
  it('gives StorageFullError, leaves no partial file, keeps reads, and recovers when space is freed', () => {
    const cache = new Cache(disk!, { sizeLimit: 2 ** 40 });
    const value = Buffer.alloc(200_000, 7);
    let stored = 0;
    let failure: unknown;
    for (let i = 0; i < 100; i++) {
      try {
        cache.set(`k${i}`, value);
        stored++;
      } catch (error) {
        failure = error;
        break;
      }
    }
    expect(failure).toBeInstanceOf(StorageFullError);
    expect(failure).toBeInstanceOf(DatabaseError);
    expect((failure as Error).cause).toBeDefined();
    expect(stored).toBeGreaterThan(3);
    // Nothing half-written: every value file on disk belongs to a row.
    expect(valueFiles(disk!)).toHaveLength(stored);
    expect(cache.get('k0')).toEqual(value);
    // Freeing space (deleting entries deletes their files) makes writes work again.
    for (let i = 0; i < 4; i++) expect(cache.delete(`k${i}`)).toBe(true);
    expect(cache.set('again', value)).toBe(true);
    expect(cache.get('again')).toEqual(value);
    expect(cache.check().filter((w) => w.kind !== 'size')).toEqual([]);
    cache.close();
    expect(path.isAbsolute(disk!)).toBe(true);
    unmountAll();
  });
});
