/**
 * Temporary directories for tests: each test gets a fresh real directory, removed after the file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

/** A new empty directory under the OS temp folder, deleted when the test file ends. */
export function tempDir(label = 'test'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ndc-${label}-`));
  made.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
