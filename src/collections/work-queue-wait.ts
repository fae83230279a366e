/**
 * work-queue-wait: how `WorkQueue.next()` waits without spinning the CPU. Other processes cannot
 * signal us, so waiting is polling with a backoff capped at POLL_CAP_SECONDS; within this process,
 * `put` wakes waiters on the same database file at once. This file must not touch the database.
 */
import { AbortError } from '../cache/errors.js';

/** Longest sleep between two polls: how late a job put by another process may be noticed. */
export const POLL_CAP_SECONDS = 0.05;
/** First sleep after an empty poll. */
export const POLL_START_SECONDS = 0.002;

const waiters = new Map<string, Set<() => void>>();

/** Wakes every `sleep` waiting on `file` in this process (called after work is put). */
export function notifyWork(file: string): void {
  const set = waiters.get(file);
  if (set === undefined) return;
  waiters.delete(file);
  for (const wake of set) wake();
}

/** The AbortError for a cancelled wait, carrying the signal's reason. */
export function abortError(signal: AbortSignal): AbortError {
  return new AbortError('the wait for work was cancelled', { cause: signal.reason });
}

/**
 * Sleeps up to `seconds`; resolves early when work is put on `file` in this process; rejects with
 * AbortError when `signal` aborts.
 */
export function sleep(
  file: string,
  seconds: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<void>((resolve, reject) => {
    let set = waiters.get(file);
    if (set === undefined) {
      set = new Set();
      waiters.set(file, set);
    }
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const current = waiters.get(file);
      current?.delete(wake);
      if (current?.size === 0) waiters.delete(file);
    };
    const wake = () => {
      finish();
      resolve();
    };
    const onAbort = () => {
      finish();
      reject(abortError(signal!));
    };
    const timer = setTimeout(wake, Math.max(0, seconds * 1000));
    signal?.addEventListener('abort', onAbort, { once: true });
    set.add(wake);
  });
}
