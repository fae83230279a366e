/**
 * Real child processes for multi-process tests: `child_process.fork` of a TypeScript fixture
 * (its transpiled copy from this run's globalSetup, run by plain node; through tsx when there is
 * none), with helpers to wait for exit, collect messages and SIGKILL mid-work.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Folder of child scripts used by the tests. */
export const FIXTURES = path.resolve(here, '../fixtures');

/** This run's JavaScript copy of `test/fixtures/<script>` (made by globalSetup), if there is one. */
export function compiledFixture(script: string): string | undefined {
  const build = inject('fixtureBuild');
  if (!build) return undefined;
  const compiled = path.join(build, 'test', 'fixtures', script.replace(/\.ts$/, '.js'));
  return fs.existsSync(compiled) ? compiled : undefined;
}

/** The fixture as node runs it: [file, execArgv]. */
function fixtureEntry(script: string): [string, string[]] {
  const compiled = compiledFixture(script);
  if (compiled) return [compiled, []];
  return [path.join(FIXTURES, script), ['--import', 'tsx']];
}

/** Forks `test/fixtures/<script>` (a .ts file) with `args`; stdout/stderr are inherited. */
export function forkFixture(
  script: string,
  args: string[] = [],
  options: { silent?: boolean } = {},
): ChildProcess {
  const [file, execArgv] = fixtureEntry(script);
  return fork(file, args, {
    execArgv,
    stdio: options.silent
      ? ['ignore', 'pipe', 'pipe', 'ipc']
      : ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Resolves with the exit code (or the signal name) of a child. */
export function exited(child: ChildProcess): Promise<number | NodeJS.Signals> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal as NodeJS.Signals))),
  );
}

/** Forks one child per args list and waits for all; rejects if any exits non-zero. */
export async function runChildren(script: string, argsList: string[][]): Promise<void> {
  const children = argsList.map((args) => forkFixture(script, args));
  const codes = await Promise.all(children.map(exited));
  const bad = codes.map((code, i) => [i, code] as const).filter(([, code]) => code !== 0);
  if (bad.length > 0)
    throw new Error(
      `${script}: children exited with ${bad.map(([i, code]) => `#${i}: ${code}`).join(', ')}`,
    );
}

/** Resolves with the first IPC message of a child that satisfies `predicate`. */
export function message<T = unknown>(
  child: ChildProcess,
  predicate: (m: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      if (!predicate(m)) return;
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.once('exit', (code) =>
      reject(new Error(`child exited (${code}) before the expected message`)),
    );
  });
}

/** Sends `m` to a child and resolves once it has been handed to the IPC channel. */
export function sent(child: ChildProcess, m: unknown): Promise<void> {
  return new Promise((resolve, reject) =>
    child.send(m as Parameters<ChildProcess['send']>[0], (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}

/** Resolves once a child has sent `count` IPC messages (of any kind). */
export function messagesReceived(child: ChildProcess, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    child.on('message', () => {
      if (++received === count) resolve();
    });
    child.once('exit', (code) => {
      if (received < count)
        reject(new Error(`child exited (${code}) after ${received} of ${count} messages`));
    });
  });
}
