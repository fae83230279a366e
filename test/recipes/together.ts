/**
 * Runs the recipes' fixtures as a group: forks every child, waits until all say 'ready', sends
 * them 'go' at once (with an optional payload) and collects their results; fails if a child fails.
 */
import type { ChildProcess } from 'node:child_process';
import { exited, forkFixture, message } from '../helpers/children.js';

/** Forks `script` once per args list, starts them together, resolves with each child's result. */
export async function startTogether<R = unknown>(
  script: string,
  argsList: string[][],
  go: () => unknown = () => true,
): Promise<R[]> {
  const children = argsList.map((args) => forkFixture(script, args));
  try {
    await Promise.all(children.map((child) => message(child, (m) => m === 'ready')));
    const results = children.map((child) =>
      message<{ result: R }>(child, (m) => typeof m === 'object' && m !== null && 'result' in m),
    );
    const payload = go();
    for (const child of children) child.send({ go: payload });
    const values = (await Promise.all(results)).map((m) => m.result);
    const codes = await Promise.all(children.map(exited));
    if (codes.some((code) => code !== 0))
      throw new Error(`${script}: children exited with ${codes.join(', ')}`);
    return values;
  } finally {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Forks `recipes-hold.ts` and resolves once the child holds its lock. */
export async function holdInChild(
  directory: string,
  kind: 'lock' | 'rlock' | 'semaphore' | 'compute',
  key: string,
  expire: number | 'none',
): Promise<ChildProcess> {
  const child = forkFixture('recipes-hold.ts', [directory, kind, key, String(expire)]);
  await message(child, (m) => m === 'held');
  return child;
}

/** SIGKILLs a child and waits until it is gone. */
export async function kill(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}
