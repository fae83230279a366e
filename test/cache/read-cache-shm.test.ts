// The read cache's WAL-index validator (src/cache/shm.ts, native/shm.c): fresh reads while other
// processes write and Caches on the same file open and close around it (closing an fd of `-shm`
// once corrupted a database: no fd SQLite may hold a lock through is ever closed), bounded file
// descriptors, and the fallbacks (addon off, a journal mode other than WAL).
import { type ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { mappedFiles, nativeAddon } from '../../src/cache/shm.js';
import { Cache } from '../../src/index.js';
import { exited, forkFixture } from '../helpers/children.js';
import { nativeMissing } from '../helpers/native.js';
import { tempDir } from '../helpers/tmp.js';

const openFds = () => fs.readdirSync('/proc/self/fd').length;
/** This process's memory maps of files under `directory` (a mapping keeps a file system busy). */
const mapsUnder = (directory: string) =>
  fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(directory));

/** Runs `fn` with the addon turned off for the Caches it opens. */
function withoutAddon<T>(fn: () => T): T {
  const saved = process.env.DISKCACHE_NATIVE;
  process.env.DISKCACHE_NATIVE = 'off';
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.DISKCACHE_NATIVE;
    else process.env.DISKCACHE_NATIVE = saved;
  }
}

const missing = nativeMissing();

describe('the native addon', () => {
  it.skipIf(missing !== undefined)(
    `loads, and a new Cache validates with it${missing ? ` (skipped: ${missing})` : ''}`,
    () => {
      expect(nativeAddon()).not.toBeNull();
      const cache = new Cache();
      try {
        expect(cache.readCacheValidator).toBe('shm');
      } finally {
        cache.close();
      }
    },
  );
});

/**
 * Who holds a lock on SQLite's DMS byte of `-shm` (byte 128: every live connection holds a shared
 * lock on it), as another process sees it through fcntl(F_GETLK): the holder's pid, or 0 for none.
 */
function dmsLockHolder(shmFile: string): number {
  const script = `
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
probe = struct.pack('hhqqi', fcntl.F_WRLCK, os.SEEK_SET, 128, 1, 0)
l_type, _, _, _, pid = struct.unpack('hhqqi', fcntl.fcntl(fd, fcntl.F_GETLK, probe))
print(0 if l_type == fcntl.F_UNLCK else pid)
`;
  return Number(execFileSync('python3', ['-c', script, shmFile], { encoding: 'utf8' }).trim());
}

describe.skipIf(missing !== undefined)(
  `the WAL-index validator${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it("closing Caches leaves this process's other connections' SQLite locks on -shm in place", () => {
      // The failure that corrupted a database: closing an fd of -shm drops every POSIX lock this
      // process holds on it, so another process sees no live connection and resets the WAL index.
      const directory = tempDir('shm-locks');
      const shm = path.join(directory, 'cache.db-shm');
      // A connection the read cache does not count: its locks must survive the others' close.
      const held = new Cache(directory, { readCache: false });
      try {
        held.set('k', 1);
        expect(dmsLockHolder(shm)).toBe(process.pid);
        for (let i = 0; i < 3; i++) {
          const cache = new Cache(directory);
          expect(cache.readCacheValidator).toBe('shm');
          expect(cache.get('k')).toBe(1);
          expect(cache.get('k')).toBe(1);
          cache.close();
          expect(dmsLockHolder(shm)).toBe(process.pid);
        }
        held.set('k', 2);
        expect(dmsLockHolder(shm)).toBe(process.pid);
      } finally {
        held.close();
      }
      expect(fs.existsSync(shm)).toBe(false);
    });

    it('many Caches opened and closed on one directory while two processes write: every read fresh, no corruption, no fd left open', async () => {
      const directory = tempDir('shm-churn');
      new Cache(directory).close();
      const fdsBefore = openFds();
      const names = ['a', 'b'];
      const key = (name: string) => `n:${name}`;
      /** The last value each writer reported committed. */
      const acked = new Map(names.map((name) => [name, 0]));
      const finals = new Map<string, number>();
      const stale: string[] = [];
      // Long-lived: its kept rows must never be older than a commit reported before the read.
      const reader = new Cache(directory);
      expect(reader.readCacheValidator).toBe('shm');
      const fresh = (cache: Cache, name: string, where: string) => {
        const least = acked.get(name)!;
        const got = cache.get<number>(key(name));
        if (least > 0 && !(typeof got === 'number' && got >= least))
          stale.push(`${where}: ${key(name)} read ${got} after ${least} was committed`);
      };
      const children: ChildProcess[] = names.map((name) =>
        forkFixture('cache-counter-writer.ts', [directory, name]),
      );
      for (const child of children) {
        child.on('message', (m: { name: string; value?: number; final?: number }) => {
          if (m.final !== undefined) {
            finals.set(m.name, m.final);
            return;
          }
          acked.set(m.name, m.value!);
          // Three reads: the first after a commit refills the row, the others are answered from it.
          for (let i = 0; i < 3; i++) fresh(reader, m.name, 'reader');
        });
      }
      try {
        let opened = 0;
        const deadline = Date.now() + 6_000;
        while (Date.now() < deadline || acked.get('a')! < 100 || acked.get('b')! < 100) {
          const first = new Cache(directory);
          const second = new Cache(directory);
          opened += 2;
          expect(first.readCacheValidator).toBe('shm');
          for (const name of names) {
            for (let i = 0; i < 3; i++) {
              fresh(first, name, 'first');
              fresh(second, name, 'second');
            }
          }
          // Closing one Cache while others on the file stay open must leave their locks alone.
          first.close();
          await yieldToEventLoop();
          for (const name of names) for (let i = 0; i < 3; i++) fresh(second, name, 'second');
          second.close();
          await yieldToEventLoop();
        }
        for (const child of children) child.send('stop');
        await Promise.all(children.map(exited));
        expect(stale).toEqual([]);
        expect(opened).toBeGreaterThan(20);
        for (const name of names) {
          expect(finals.get(name)).toBeGreaterThan(100);
          expect(reader.get(key(name))).toBe(finals.get(name));
        }
      } finally {
        for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
        reader.close();
      }
      const checker = new Cache(directory);
      expect(checker.check()).toEqual([]);
      const db = new Database(path.join(directory, 'cache.db'), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
      checker.close(); // the last connection: SQLite unlinks -shm (a read-only one would not)
      // Every connection is closed: SQLite unlinked -shm, and this process closed its fd.
      expect(fs.existsSync(path.join(directory, 'cache.db-shm'))).toBe(false);
      expect(openFds()).toBeLessThanOrEqual(fdsBefore);
      expect(mapsUnder(directory)).toEqual([]);
    }, 120_000);

    it('a Cache opened and closed again and again, alone: -shm is recreated each time, one fd at most', () => {
      const directory = tempDir('shm-reopen');
      new Cache(directory).close();
      const fdsBefore = openFds();
      const mappedBefore = mappedFiles();
      for (let i = 0; i < 40; i++) {
        const cache = new Cache(directory);
        expect(cache.readCacheValidator).toBe('shm');
        cache.set('k', i);
        expect(cache.get('k')).toBe(i);
        expect(cache.get('k')).toBe(i);
        const other = new Cache(directory); // another connection of this process
        other.set('k', -i);
        expect(cache.get('k')).toBe(-i);
        expect(mappedFiles()).toBe(mappedBefore + 1); // one mapping for both
        other.close();
        expect(cache.get('k')).toBe(-i);
        expect(mapsUnder(directory).some((line) => line.endsWith('cache.db-shm'))).toBe(true);
        cache.close();
        expect(fs.existsSync(path.join(directory, 'cache.db-shm'))).toBe(false);
        expect(mappedFiles()).toBe(mappedBefore);
        expect(mapsUnder(directory)).toEqual([]);
      }
      expect(openFds()).toBeLessThanOrEqual(fdsBefore);
    });

    it('without the addon (DISKCACHE_NATIVE=off) the read cache validates with data_version, and sees other connections', () => {
      const directory = tempDir('shm-off');
      const cache = withoutAddon(() => new Cache(directory));
      const other = new Cache(directory);
      try {
        expect(cache.readCacheValidator).toBe('data_version');
        expect(other.readCacheValidator).toBe('shm');
        cache.set('k', 1);
        expect(cache.get('k')).toBe(1);
        other.set('k', 2);
        expect(cache.get('k')).toBe(2);
        expect(cache.get('k')).toBe(2);
        other.delete('k');
        expect(cache.get('k')).toBeUndefined();
      } finally {
        cache.close();
        other.close();
      }
    });

    it('a journal mode other than WAL falls back to data_version, also when reset at run time', async () => {
      const directory = tempDir('shm-journal');
      const cache = new Cache(directory, { sqlite: { journalMode: 'delete' } });
      try {
        expect(cache.readCacheValidator).toBe('data_version');
        cache.set('k', 1);
        expect(cache.get('k')).toBe(1);
        const child = forkFixture('cache-ops-on-command.ts', [directory]);
        await new Promise<void>((resolve) => child.once('message', () => resolve()));
        await new Promise<void>((resolve) => {
          child.on('message', (m: { done?: number }) => m.done === 1 && resolve());
          child.send({ id: 1, op: 'set', key: 'k', value: 2 });
        });
        expect(cache.get('k')).toBe(2);
        child.send({ id: 2, op: 'exit' });
        await exited(child);
        // Back to WAL at run time: the validator follows.
        cache.reset('sqlite_journal_mode', 'wal');
        expect(cache.readCacheValidator).toBe('shm');
        cache.reset('sqlite_journal_mode', 'delete');
        expect(cache.readCacheValidator).toBe('data_version');
        const other = new Cache(directory);
        other.set('k', 3);
        expect(cache.get('k')).toBe(3);
        other.close();
      } finally {
        cache.close();
      }
    });
  },
);
