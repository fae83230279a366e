/**
 * Polling instead of fixed sleeps: a test that waits for something to happen (an entry to expire,
 * a child to get somewhere) asks again every few milliseconds until it holds, with a deadline far
 * beyond what an idle machine needs, so that a loaded machine only makes the test slower.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves once `condition` returns true; rejects (naming `what`) after `timeoutMs`.
 * @default timeoutMs 30 s; intervalMs 25 ms
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(options.intervalMs ?? 25);
  }
}
