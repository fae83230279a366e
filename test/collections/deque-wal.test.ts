// A long-lived Deque or Index keeps its write-ahead log bounded: every autocommit write must let
// SQLite run its automatic checkpoint (regression: writes with RETURNING read through `.get()`
// never finished their statement, no checkpoint ran, and 3,000 appends left a 50 MB WAL).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Deque, Index } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

/** SQLite checkpoints at 1,000 pages (4 MiB with 4 KiB pages); allow some slack past that. */
const WAL_BOUND = 8 * 1024 * 1024;

const walSize = (directory: string) => fs.statSync(path.join(directory, 'cache.db-wal')).size;

describe('write-ahead log of long-lived collections', () => {
  it('stays bounded over thousands of appends and pops', () => {
    const deque = new Deque<string>(tempDir('deque-wal'));
    for (let n = 0; n < 3_000; n++) deque.append(`item-${n}`);
    for (let n = 0; n < 3_000; n++) deque.appendLeft(`item-${n}`);
    expect(walSize(deque.directory)).toBeLessThan(WAL_BOUND);
    for (let n = 0; n < 3_000; n++) deque.popLeft();
    for (let n = 0; n < 3_000; n++) deque.pop();
    expect(walSize(deque.directory)).toBeLessThan(WAL_BOUND);
    expect(deque.length).toBe(0);
    deque.close();
  });

  it('stays bounded over thousands of sets, pops and setDefaults', () => {
    const index = new Index<string, number>(tempDir('index-wal'));
    for (let n = 0; n < 3_000; n++) index.set(`k${n}`, n);
    for (let n = 0; n < 3_000; n++) index.pop(`k${n}`);
    expect(walSize(index.directory)).toBeLessThan(WAL_BOUND);
    expect(index.size).toBe(0);
    index.close();
  });
});
