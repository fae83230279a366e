/**
 * Runs the `diskcache` CLI as a real process (`node dist/cli/main.js ...`, built once per run by
 * test/helpers/global-setup.ts) and collects its exit code and output. Used by the CLI tests;
 * not a test file itself.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root, the working directory of every CLI run. */
export const ROOT = path.resolve(here, '../..');
/** The compiled CLI entry (what the `diskcache` bin runs). */
export const MAIN = path.join(ROOT, 'dist/cli/main.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as bytes (for --raw). */
  readonly stdoutBytes: Buffer;
}

export interface CliOptions {
  /** Variables added to the environment (DISKCACHE_DIR and DISKCACHE_DEBUG are removed first). */
  readonly env?: Record<string, string>;
  /** Written to the CLI's stdin, which is then closed; without it stdin is empty. */
  readonly input?: string;
}

/**
 * Runs `diskcache ...args`. DISKCACHE_DIR is removed from the inherited environment unless
 * `env` sets it; stdin is empty (not a terminal) unless `input` is given.
 */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DISKCACHE_DIR;
  delete env.DISKCACHE_DEBUG;
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: ROOT,
      env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** Runs with `--json` and parses stdout; fails the test with stderr when the exit code is not `expectCode`. */
export async function runJson<T = Record<string, unknown>>(
  args: readonly string[],
  expectCode = 0,
): Promise<T> {
  const result = await runCli(['--json', ...args]);
  if (result.code !== expectCode) {
    throw new Error(
      `diskcache ${args.join(' ')} exited ${result.code}, expected ${expectCode}\nstderr: ${result.stderr}\nstdout: ${result.stdout}`,
    );
  }
  return JSON.parse(result.stdout) as T;
}
