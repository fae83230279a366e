/**
 * Every runnable example in examples/ is smoke-tested: it must finish on its own with exit code 0.
 * An example that needs arguments or a longer run is listed in SPECIAL with how to run it here.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const examplesDir = path.join(root, 'examples');

/** Examples run with extra arguments or environment; `skip` names the test that covers it instead. */
const SPECIAL: Record<string, { args?: string[]; env?: Record<string, string>; skip?: string }> = {
  // Run with a folder to hash and a kept queue directory, stopped and resumed, by its own test.
  'resumable-hash.ts': { skip: 'test/runner/resumable-hash-example.test.ts' },
};

const examples = fs
  .readdirSync(examplesDir)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.includes('.handler.') && !file.endsWith('-handler.ts'))
  .sort();

describe('examples', () => {
  it('there are examples to run', () => {
    expect(examples.length).toBeGreaterThan(3);
  });

  for (const file of examples) {
    const special = SPECIAL[file] ?? {};
    it.skipIf(Boolean(special.skip))(`${file} runs to completion${special.skip ? ` (covered by ${special.skip})` : ''}`, () => {
      const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(examplesDir, file), ...(special.args ?? [])], {
        cwd: root,
        encoding: 'utf8',
        timeout: 90_000,
        env: { ...process.env, ...special.env, CI: 'true' },
      });
      if (result.status !== 0) {
        throw new Error(`${file} exited with ${result.status ?? result.signal}\n${result.stdout}\n${result.stderr}`);
      }
      expect(result.status).toBe(0);
    }, 120_000);
  }
});
