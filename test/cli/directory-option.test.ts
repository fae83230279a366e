/**
 * One rule names the directory of every command: `-d/--dir DIR` (else $DISKCACHE_DIR); commands
 * whose directory is their main object also take it as an argument (`queue stats DIR`) or as
 * `--queue DIR` (work, crawl), and the old spellings keep working. Both given and different is a
 * usage error (exit 2). Runs the program in-process with a captured CliIo.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';
import { tempDir } from '../helpers/tmp.js';

async function run(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (chunk) => (stdout += String(chunk)) },
    stderr: { write: (chunk) => (stderr += chunk) },
    env,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}

describe('naming the directory', () => {
  it('queue commands take DIR as an argument, or -d/--dir, or DISKCACHE_DIR', async () => {
    const queue = path.join(tempDir('dir-rule'), 'jobs');
    expect((await run(['queue', 'put', queue, 'a', 'b'])).code).toBe(0); // the old spelling
    const byFlag = await run(['--json', '-d', queue, 'queue', 'put', 'c', 'd', 'e']);
    expect(byFlag.code).toBe(0);
    expect(byFlag.json().queued).toHaveLength(3); // with --dir every argument is a payload
    const counts = [
      await run(['--json', 'queue', 'stats', queue]),
      await run(['--json', '--dir', queue, 'queue', 'stats']),
      await run(['--json', 'queue', 'stats'], { DISKCACHE_DIR: queue }),
      await run(['--json', 'queue', 'failed', '-d', queue]),
    ];
    expect(counts.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(counts.slice(0, 3).map((r) => r.json().pending)).toEqual([5, 5, 5]);
    // The argument wins over DISKCACHE_DIR (a default), but not over a different --dir.
    const other = path.join(tempDir('dir-rule'), 'other');
    expect((await run(['queue', 'stats', queue], { DISKCACHE_DIR: other })).code).toBe(0);
    const both = await run(['-d', other, 'queue', 'stats', queue]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two directories given/);
    expect((await run(['-d', queue, 'queue', 'stats', queue])).code).toBe(0); // the same one twice
  });

  it('work takes --queue DIR or -d/--dir DIR for the same thing', async () => {
    const missing = path.join(tempDir('dir-rule'), 'no-queue');
    const viaQueue = await run(['work', './handler.js', '--queue', missing]);
    const viaDir = await run(['-d', missing, 'work', './handler.js']);
    const viaEnv = await run(['work', './handler.js'], { DISKCACHE_DIR: missing });
    for (const result of [viaQueue, viaDir, viaEnv]) {
      expect(result.code).toBe(5); // not a work queue: the same directory was looked at
      expect(result.stderr).toContain(missing);
    }
    const both = await run(['-d', `${missing}-2`, 'work', './handler.js', '--queue', missing]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two directories given/);
  });

  it('crawl takes --queue DIR as well as -d/--dir DIR', async () => {
    const dir = tempDir('dir-rule');
    const both = await run(['-d', path.join(dir, 'a'), 'crawl', '--queue', path.join(dir, 'b')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two directories given/);
  });

  it('without any directory a command says how to give one (exit 2)', async () => {
    const result = await run(['queue', 'stats']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--dir DIR/);
  });
});
