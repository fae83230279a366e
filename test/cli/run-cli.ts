/**
 * Runs the `diskcache` CLI as a real process (`node --import tsx src/cli/main.ts ...`) and
 * collects its exit code and output. Used by the CLI tests; not a test file itself.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
export const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as bytes (for --raw). */
  readonly stdoutBytes: Buffer;
}

/**
 * Runs `diskcache ...args`. DISKCACHE_DIR is removed from the inherited environment unless
 * `env` sets it; stdin is empty (not a terminal).
 */
export function runCli(
  args: readonly string[],
  options: { env?: Record<string, string> } = {},
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DISKCACHE_DIR;
  delete env.DISKCACHE_DEBUG;
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
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
