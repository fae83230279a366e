/**
 * The CI share of the stress suite (`npm run stress`): a short run over every target (Cache,
 * FanoutCache, Deque, Index, WorkQueue with SIGKILLs), with processes and worker threads, must end
 * with 0 mismatches, 0 lost and check() clean in Node and Python. A run with `--sabotage` (writes
 * behind the models' backs) must fail: the checker is checked too.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ROOT } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

function stress(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // This run's transpiled copy with plain node (its actor processes inherit that), else tsx.
    const build = inject('fixtureBuild');
    const compiled = build && path.join(build, 'stress', 'run.js');
    const entry =
      compiled && fs.existsSync(compiled)
        ? [compiled]
        : ['--import', 'tsx', path.join(ROOT, 'stress/run.ts')];
    const child = spawn(process.execPath, [...entry, '--dir', tempDir('stress'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('npm run stress (short CI run)', () => {
  it('every target: operations run, 0 mismatches, 0 lost, check() clean in Node and Python', async () => {
    const seed = 1 + Math.floor(Math.random() * 1e6);
    const { code, output } = await stress([
      '--processes',
      '2',
      '--threads',
      '2',
      '--seconds',
      '5',
      '--seed',
      String(seed),
      '--large-fraction',
      '0.05',
    ]);
    expect(output).toMatch(/^total: \d+ operations .* mismatches 0, lost 0, kills [1-9]\d*: ok$/m);
    for (const target of ['cache', 'fanout', 'deque', 'index', 'queue'])
      expect(output).toMatch(
        new RegExp(`^${target} +[1-9]\\d* operations .*check warnings 0`, 'm'),
      );
    expect(output).toContain(`--seed ${seed}`);
    expect(code, output).toBe(0);
  }, 240_000);

  it('a run with writes behind the models’ backs fails, naming the mismatches', async () => {
    const { code, output } = await stress([
      '--processes',
      '2',
      '--seconds',
      '4',
      '--target',
      'cache',
      '--sabotage',
    ]);
    expect(output).toMatch(/gave "sabotage \d+"/);
    expect(output).toMatch(/FAILED/);
    expect(code).toBe(1);
  }, 120_000);
});
