/**
 * The CLI (dist) in a process group of its own, as on another machine: its output collected, and
 * the whole group SIGKILLed by `killGroup` (or by `killStartedGroups` after each test).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { MAIN, ROOT } from '../cli/run-cli.js';

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const started = new Set<ChildProcess>();

/** Starts `diskcache ...args` (dist) detached; `finished` resolves when its output closes. */
export function startCliGroup(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const finished = new Promise<Finished>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, finished };
}

/** SIGKILLs the child's whole process group (nothing if it is gone). */
export function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** SIGKILLs every group `startCliGroup` started (for afterEach). */
export function killStartedGroups(): void {
  for (const child of started) killGroup(child);
  started.clear();
}
