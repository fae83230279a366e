/**
 * Large values in value files: modes 2/3/4 at minFileSize, diskcache's `ab/cd/<28 hex>.val`
 * names, replacing and deleting files (and their emptied directories), a vanished file read as a
 * miss; read() streams and setStream().
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KeyError } from '../../src/index.js';
import {
  dirsUnder,
  filesUnder,
  openCache,
  readAll,
  storedRows,
  VALUE_FILE,
} from '../fixtures/cache-test-kit.js';

describe('large values go to value files', () => {
  it('strings (mode 3), buffers (mode 2) and serialized values (mode 4) at or above minFileSize', () => {
    const cache = openCache({ minFileSize: 1000 });
    const text = 'é'.repeat(1000); // 1000 characters, 2000 bytes
    const bytes = Buffer.alloc(1000, 7);
    const object = { list: Array.from({ length: 300 }, (_, i) => `item ${i}`) };
    cache.set('text', text);
    cache.set('bytes', bytes);
    cache.set('object', object);
    cache.set('short', 'x'.repeat(999));
    const rows = storedRows(cache.directory);
    expect(rows.map((row) => row.mode)).toEqual([3n, 2n, 4n, 1n]);
    for (const row of rows.slice(0, 3)) {
      expect(row.filename).toMatch(VALUE_FILE);
      expect(row.value).toBeNull();
      expect(Number(row.size)).toBe(fs.statSync(path.join(cache.directory, row.filename!)).size);
    }
    expect(rows[0]!.size).toBe(2000n);
    expect(rows[1]!.size).toBe(1000n);
    expect(fs.readFileSync(path.join(cache.directory, rows[0]!.filename!), 'utf8')).toBe(text);
    expect(filesUnder(cache.directory)).toEqual(
      rows
        .slice(0, 3)
        .map((row) => row.filename)
        .sort(),
    );
    expect(cache.get('text')).toBe(text);
    expect(cache.get('bytes')).toEqual(bytes);
    expect(cache.get('object')).toEqual(object);
    // volume counts the file bytes.
    expect(cache.volume()).toBeGreaterThanOrEqual(2000 + 1000 + Number(rows[2]!.size));
  });

  it('overwriting inline <-> file replaces and deletes the old file and its directories', () => {
    const cache = openCache({ minFileSize: 100 });
    const big = Buffer.alloc(500, 1);
    cache.set('k', big);
    const first = storedRows(cache.directory)[0]!.filename!;
    cache.set('k', Buffer.alloc(600, 2));
    const second = storedRows(cache.directory)[0]!.filename!;
    expect(second).not.toBe(first);
    expect(filesUnder(cache.directory)).toEqual([second]);
    expect(cache.get('k')).toEqual(Buffer.alloc(600, 2));
    cache.set('k', 'small');
    expect(filesUnder(cache.directory)).toEqual([]);
    expect(dirsUnder(cache.directory)).toEqual([]);
    expect(cache.get('k')).toBe('small');
    cache.set('k', big);
    expect(cache.get('k')).toEqual(big);
    expect(cache.check()).toEqual([]);
  });

  it('delete and pop remove the value file and the emptied directories', () => {
    const cache = openCache({ minFileSize: 10 });
    cache.set('a', 'a'.repeat(20));
    cache.set('b', 'b'.repeat(20));
    expect(filesUnder(cache.directory)).toHaveLength(2);
    expect(cache.delete('a')).toBe(true);
    expect(cache.pop('b')).toBe('b'.repeat(20));
    expect(filesUnder(cache.directory)).toEqual([]);
    expect(dirsUnder(cache.directory)).toEqual([]);
  });

  it('a value whose file vanished reads as a miss', () => {
    const cache = openCache({ minFileSize: 10 });
    cache.set('k', 'x'.repeat(50));
    fs.rmSync(path.join(cache.directory, storedRows(cache.directory)[0]!.filename!));
    expect(cache.get('k', { default: 'gone' })).toBe('gone');
    expect(cache.getEntry('k')).toBeUndefined();
    expect(cache.pop('k', { default: 'gone' })).toBe('gone');
  });
});

describe('read() and setStream()', () => {
  it('streams a file-backed value from its file', async () => {
    const cache = openCache({ minFileSize: 100 });
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    cache.set('bin', bytes);
    cache.set('text', 'ü'.repeat(200));
    expect(await readAll(cache.read('bin'))).toEqual(bytes);
    expect((await readAll(cache.read('text'))).toString('utf8')).toBe('ü'.repeat(200));
  });

  it('a stream opened before the entry is deleted still reads the whole value', async () => {
    const cache = openCache({ minFileSize: 100 });
    const bytes = Buffer.alloc(100_000, 3);
    cache.set('bin', bytes);
    const stream = cache.read('bin');
    cache.delete('bin');
    expect(filesUnder(cache.directory)).toEqual([]);
    expect(await readAll(stream)).toEqual(bytes);
  });

  it('streams inline strings and buffers; other values are a TypeError; missing is a KeyError', async () => {
    const cache = openCache();
    cache.set('s', 'short');
    cache.set('b', Buffer.from('buf'));
    cache.set('n', 12);
    expect((await readAll(cache.read('s'))).toString()).toBe('short');
    expect((await readAll(cache.read('b'))).toString()).toBe('buf');
    expect(() => cache.read('n')).toThrow(TypeError);
    expect(() => cache.read('missing')).toThrow(KeyError);
    cache.set('old', Buffer.from('x'), { expire: -1 });
    expect(() => cache.read('old')).toThrow(KeyError);
  });

  it('setStream writes a binary value file from a readable', async () => {
    const cache = openCache();
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(10_000, i));
    expect(
      await cache.setStream('streamed', Readable.from(chunks), { tag: 'up', expire: 60 }),
    ).toBe(true);
    const [row] = storedRows(cache.directory);
    expect(row).toMatchObject({ mode: 2n, size: 200_000n, tag: 'up' });
    expect(row!.filename).toMatch(VALUE_FILE);
    expect(cache.get('streamed')).toEqual(Buffer.concat(chunks));
    expect(await readAll(cache.read('streamed'))).toEqual(Buffer.concat(chunks));
    // A second setStream replaces the file.
    await cache.setStream('streamed', Readable.from([Buffer.from('small')]));
    expect(cache.get('streamed')).toEqual(Buffer.from('small'));
    expect(filesUnder(cache.directory)).toHaveLength(1);
    expect(cache.check()).toEqual([]);
  });

  it('a failing stream stores nothing and leaves no file', async () => {
    const cache = openCache();
    cache.set('k', 'before');
    async function* broken() {
      yield Buffer.alloc(1000, 1);
      throw new Error('source failed');
    }
    await expect(cache.setStream('k', Readable.from(broken()))).rejects.toThrow('source failed');
    expect(cache.get('k')).toBe('before');
    expect(filesUnder(cache.directory)).toEqual([]);
    expect(cache.check()).toEqual([]);
  });
});
