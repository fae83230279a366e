/**
 * check: diskcache's `check()` — SQLite's integrity check, then value files against rows, files
 * nobody references, empty directories, and the count/size metadata. With `fix` it repairs each.
 * It runs rarely, so it favours clarity; it must not be called on a hot path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import type { Disk } from './disk.js';
import { storageError } from './errors.js';
import { databaseFile } from './schema.js';
import type { CheckWarning } from './types.js';

/**
 * How old a value file that no row references must be before `check({fix: true})` deletes it:
 * a younger one may belong to a write that another process has not committed yet.
 */
export const UNKNOWN_FILE_GRACE_SECONDS = 60;

/** Whether a file was modified within the grace period (or cannot be read: leave it). */
function isYoung(file: string): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs < UNKNOWN_FILE_GRACE_SECONDS * 1000;
  } catch {
    return true;
  }
}

export function runCheck(
  db: Database.Database,
  disk: Disk,
  fix: boolean,
  inTransaction: (body: () => void) => void,
): CheckWarning[] {
  const warnings: CheckWarning[] = [];
  const integrity = db.pragma('integrity_check') as { integrity_check: string }[];
  for (const { integrity_check: line } of integrity) {
    if (line !== 'ok') warnings.push({ kind: 'integrity', message: line });
  }
  if (fix) {
    try {
      db.exec('VACUUM');
    } catch (error) {
      throw storageError(error, `check({fix}): VACUUM of ${databaseFile(db)}`);
    }
  }

  inTransaction(() => {
    const referenced = new Set<string>();
    const rows = db
      .prepare('SELECT rowid, size, filename FROM Cache WHERE filename IS NOT NULL')
      .raw(true)
      .all() as [number, number, string][];
    for (const [rowid, size, filename] of rows) {
      const full = path.resolve(disk.fullPath(filename));
      referenced.add(full);
      let actual: number;
      try {
        actual = fs.statSync(full).size;
      } catch {
        warnings.push({ kind: 'file-not-found', message: `file not found: ${full}`, path: full });
        if (fix) db.prepare('DELETE FROM Cache WHERE rowid = ?').run(rowid);
        continue;
      }
      if (actual !== size) {
        warnings.push({
          kind: 'wrong-file-size',
          message: `wrong file size: ${full}, ${size} in the database, ${actual} on disk`,
          path: full,
        });
        if (fix) db.prepare('UPDATE Cache SET size = ? WHERE rowid = ?').run(actual, rowid);
      }
    }

    // Post-order walk: with `fix`, a directory emptied by removing unknown files (or emptied
    // sub-directories) is removed in the same pass, so one check({fix}) leaves a clean tree.
    const root = path.resolve(disk.directory);
    const walk = (dir: string): void => {
      let names: fs.Dirent[];
      try {
        names = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      const emptyAtStart = names.length === 0;
      for (const entry of names) {
        const full = path.resolve(dir, entry.name);
        if (full.includes('cache.db')) continue;
        if (entry.isDirectory()) walk(full);
        else if (!referenced.has(full)) {
          // A file no row references may be the value of a set that another process is
          // committing right now (it writes the file, then the row): only files older than the
          // grace period are removed, so a concurrent writer never loses its value.
          const young = isYoung(full);
          warnings.push({
            kind: 'unknown-file',
            message: young
              ? `unknown file: ${full} (left: younger than ${UNKNOWN_FILE_GRACE_SECONDS} s, a write in progress may own it)`
              : `unknown file: ${full}`,
            path: full,
          });
          if (fix && !young) fs.rmSync(full, { force: true });
        }
      }
      if (path.resolve(dir) === root) return;
      const empty = emptyAtStart || (fix && isEmptyDir(dir));
      if (!empty) return;
      if (emptyAtStart)
        warnings.push({ kind: 'empty-dir', message: `empty directory: ${dir}`, path: dir });
      if (fix) {
        // rmdir, not rm: rm refuses directories (EISDIR) without `recursive`, which could delete
        // files written meanwhile. A directory someone just filled again is left alone.
        try {
          fs.rmdirSync(dir);
        } catch {
          // not empty any more, or already gone
        }
      }
    };
    walk(disk.directory);

    const [count] = db.prepare('SELECT COUNT(key) FROM Cache').raw(true).get() as [number];
    const [storedCount] = db
      .prepare("SELECT value FROM Settings WHERE key = 'count'")
      .raw(true)
      .get() as [number];
    if (Number(count) !== Number(storedCount)) {
      warnings.push({ kind: 'count', message: `Settings.count = ${storedCount} != ${count} rows` });
      if (fix) db.prepare("UPDATE Settings SET value = ? WHERE key = 'count'").run(BigInt(count));
    }
    const [size] = db.prepare('SELECT COALESCE(SUM(size), 0) FROM Cache').raw(true).get() as [
      number,
    ];
    const [storedSize] = db
      .prepare("SELECT value FROM Settings WHERE key = 'size'")
      .raw(true)
      .get() as [number];
    if (Number(size) !== Number(storedSize)) {
      warnings.push({
        kind: 'size',
        message: `Settings.size = ${storedSize} != ${size} bytes in files`,
      });
      if (fix) db.prepare("UPDATE Settings SET value = ? WHERE key = 'size'").run(BigInt(size));
    }
  });
  return warnings;
}

function isEmptyDir(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}
