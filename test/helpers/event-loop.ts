/**
 * Event-loop lag and a held write lock, for the tests of what must not block: `maxLagDuring`
 * measures the longest gap between ticks of a 10 ms interval while some work runs; `holdLock`
 * starts a child that holds a cache directory's write lock (BEGIN IMMEDIATE) for `ms` from now.
 */
import type { ChildProcess } from 'node:child_process';
import { forkFixture, message, sent } from './children.js';

/** Starts a child that holds the write lock of `dir` for `ms` from now; resolves once it holds it. */
export async function holdLock(dir: string, ms: number): Promise<ChildProcess> {
  const child = forkFixture('cache-hold-lock.ts', [dir, String(ms)]);
  await message(child, (m) => m === 'locked');
  await sent(child, 'release'); // it lets go `ms` after this message
  return child;
}

/** Measures the longest gap between ticks of a 10 ms interval while `work` runs. */
export async function maxLagDuring<T>(
  work: () => Promise<T> | T,
): Promise<{ lag: number; result: T }> {
  let last = performance.now();
  let lag = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    last = now;
  }, 10);
  try {
    const result = await work();
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    return { lag, result };
  } finally {
    clearInterval(timer);
  }
}
